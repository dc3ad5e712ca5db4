"""The judge rates hand-made answers as MMHal-Bench's rubric says."""

import pytest

from worldgen.judge import judge
from worldgen.questions import answer
from worldgen.scene import Obj, Scene

# A sandy beach: a large red circle (top left), two small blue squares (middle, bottom right).
SCENE = Scene("hand-0", "beach", (
    Obj("circle", "red", "large", 0, 0),
    Obj("square", "blue", "small", 1, 1),
    Obj("square", "blue", "small", 2, 2),
))


def q(kind, qtype="attribute", **spec):
    return {"type": qtype, "spec": dict(kind=kind, **spec)}


def score(question, text):
    return judge(question, SCENE, text).score


COLOUR = q("attribute", attr="colour", ref="circle")
COUNT = q("count", "counting", shape="square")
ABSENT = q("adversarial", "adversarial", ask="colour", ref="triangle")
DESCRIBE = q("describe", "holistic")
RELATION = q("relation", "relation", a="circle", b="square")
SETTING = q("setting", "environment")
BIGGER = q("bigger", "comparison", a="circle", b="square")


@pytest.mark.parametrize("question,text", [
    (COLOUR, "The circle is red."),
    (COLOUR, "It is red."),
    (COUNT, "There are two squares."),
    (COUNT, "2"),
    (ABSENT, "There is no triangle in the image."),
    (ABSENT, "I don't see any triangle; there is a red circle and two blue squares."),
    (RELATION, "The circle is to the left of the squares."),
    (SETTING, "The picture was taken on a sandy beach."),
    (BIGGER, "The circle is bigger than the square."),
    (DESCRIBE, "A large red circle and two small blue squares on a sandy beach."),
])
def test_correct_answers_score_at_least_5(question, text):
    v = judge(question, SCENE, text)
    assert v.score >= 5 and not v.hallucinated, v


def test_a_detailed_grounded_answer_scores_6():
    text = ("The image shows a sandy beach with three objects: a large red circle at the top "
            "left, a small blue square in the middle and a small blue square at the bottom "
            "right. The red circle is to the left of the squares.")
    assert score(DESCRIBE, text) == 6
    assert score(COLOUR, "The circle is red. It is at the top left, to the left of the "
                         "blue squares.") in (5, 6)


@pytest.mark.parametrize("question,text", [
    (ABSENT, "The triangle is green."),
    (ABSENT, "It is green."),
    (COLOUR, "The circle is red, and there is a green triangle next to it."),
    (DESCRIBE, "A large red circle, two small blue squares and a yellow diamond on a beach."),
    (DESCRIBE, "A red circle and a purple triangle on a sandy beach."),
    (SETTING, "The picture was taken on a sandy beach with a white star... a white circle."),
])
def test_naming_an_absent_object_scores_below_3(question, text):
    v = judge(question, SCENE, text)
    assert v.score < 3 and v.hallucinated, v


@pytest.mark.parametrize("text", ["There are three squares.", "There is one square.",
                                  "There are no squares in the image.", "4"])
def test_a_wrong_count_scores_below_3(text):
    assert score(COUNT, text) < 3


@pytest.mark.parametrize("question,text", [
    (COLOUR, "The circle is blue."),
    (COLOUR, "It is yellow."),
    (RELATION, "The circle is to the right of the squares."),
    (SETTING, "The picture was taken in a snowy field."),
    (BIGGER, "The square is bigger than the circle."),
    (q("more", "comparison", s1="circle", s2="square"), "There are more circles than squares."),
    (q("more", "comparison", s1="circle", s2="square"), "There are more diamonds than circles."),
    (DESCRIBE, "Two small blue squares and a large red circle in a room."),
    (COLOUR, "There is no circle in the image."),
])
def test_wrong_details_are_hallucinations(question, text):
    assert score(question, text) < 3


@pytest.mark.parametrize("text", ["", "I don't know.", "I am not sure what colour it is."])
def test_uninformative_answers_score_3(text):
    assert score(COLOUR, text) == 3


def test_partial_descriptions_are_somewhat_informative():
    assert score(DESCRIBE, "There is a red circle.") == 4


def test_judge_agrees_with_answer_function_on_changed_scenes():
    # The answer about another scene is a hallucination here (what hallucinate.py relies on).
    other = SCENE.replace(objects=(Obj("circle", "green", "large", 0, 0),) + SCENE.objects[1:])
    text = answer(COLOUR["spec"], other)
    assert text == "The circle is green." and score(COLOUR, text) < 3


@pytest.mark.parametrize("text", ["uch lorem ipsum", "The sky is nice."])
def test_an_unrelated_answer_to_an_adversarial_question_is_not_a_hallucination(text):
    assert score(ABSENT, text) == 3


def test_bench_oracle_has_no_hallucinations(tmp_path):
    from bench import rate
    from worldgen.dataset import bench_items
    from worldgen.report import summarise, table
    from worldgen.scene import sample_scenes

    items = bench_items(sample_scenes(0, "test", 200), 0)
    results = [rate(it, it["gt_answer"]) for it in items]
    summary = summarise(results)
    assert summary["overall"]["n"] == 96 and summary["overall"]["hallucination"] == 0
    assert all(s["n"] == 12 and s["score"] >= 5 for t, s in summary.items() if t != "overall")
    assert "| **overall** | 96 |" in table(summary)
