"""The generator is deterministic, its splits are disjoint and its ground truth is consistent."""

import hashlib
import random
from pathlib import Path

import pytest

from worldgen.dataset import bench_items, generate, make_splits
from worldgen.judge import judge
from worldgen.language import captions, description
from worldgen.questions import TYPES, make_mc, make_question, make_yesno
from worldgen.render import png_bytes, render
from worldgen.scene import COL_WORDS, ROW_WORDS, sample_scenes, scene_from_dict

SIZES = {"train": 60, "val": 20, "test": 120}


def _digest(directory: Path) -> dict:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_generation_is_deterministic(tmp_path):
    a = generate(tmp_path / "a", 3, SIZES)
    b = generate(tmp_path / "b", 3, SIZES)
    assert a == b
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    c = generate(tmp_path / "c", 4, SIZES)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_splits_never_overlap():
    splits = make_splits(0, {"train": 800, "val": 100, "test": 200})
    keys = {name: {s.key() for s in scenes} for name, scenes in splits.items()}
    assert all(len(keys[n]) == len(splits[n]) for n in splits)  # no duplicates inside a split
    assert not keys["train"] & keys["test"]
    assert not keys["train"] & keys["val"]
    assert not keys["val"] & keys["test"]
    # The test split does not depend on the size of the training split.
    again = make_splits(0, {"train": 5, "val": 100, "test": 200})
    assert [s.key() for s in again["test"]] == [s.key() for s in splits["test"]]


@pytest.fixture(scope="module")
def scenes():
    return sample_scenes(7, "train", 400)


def test_facts_are_consistent(scenes):
    for s in scenes:
        f = s.facts()
        assert f["count"] == len(s.objects) == sum(f["count_by_shape"].values())
        assert sum(f["count_by_colour"].values()) == len(s.objects)
        cells = [(o.row, o.col) for o in s.objects]
        assert len(set(cells)) == len(cells), "two objects in one cell"
        for r in f["relations"]:
            a, b = s.objects[r["a"]], s.objects[r["b"]]
            assert {"left of": a.col < b.col, "right of": a.col > b.col,
                    "above": a.row < b.row, "below": a.row > b.row}[r["relation"]]
        # Every pair that differs in a column or a row has its relations listed.
        n_rel = sum((a.col != b.col) + (a.row != b.row)
                    for i, a in enumerate(s.objects) for j, b in enumerate(s.objects) if i != j)
        assert len(f["relations"]) == n_rel
        for o in f["objects"]:
            assert ROW_WORDS[o["row"]] in o["position"] or COL_WORDS[o["col"]] in o["position"]
        assert scene_from_dict(dict(f, render_seed=s.render_seed)) == s


def test_captions_and_description_are_true(scenes):
    describe = {"spec": {"kind": "describe"}}
    for s in scenes:
        caps = captions(s)
        assert len(caps) == 5 and len(set(caps)) == 5
        for text in caps + [description(s)]:
            v = judge(describe, s, text)
            assert not v.hallucinated, (text, v.reasons())
        assert judge(describe, s, description(s)).score == 6


def test_every_ground_truth_answer_scores_at_least_5(scenes):
    rng = random.Random(0)
    seen = set()
    for s in scenes:
        for t in TYPES:
            q = make_question(s, t, rng)
            if q is None:
                continue
            seen.add(t)
            v = judge(q, s, q["answer"])
            assert v.score >= 5 and not v.hallucinated, (q, v)
    assert seen == set(TYPES)


def test_multiple_choice_and_yes_no_forms(scenes):
    rng = random.Random(1)
    for s in scenes[:200]:
        mc = make_mc(s, rng)
        letter = "ABCD"[mc["correct_choice"]]
        assert mc["answer"].startswith(letter + ".")
        assert mc["caption_type"] == 2 + mc["correct_choice"]
        assert len(mc["choices"]) == 4 and len(set(mc["choices"])) == 4
        assert f"\n{letter}. {mc['choices'][mc['correct_choice']]}\n" in mc["question"]
        yn = make_yesno(s, rng)
        assert yn["answer"].startswith("Yes" if yn["yes_no_answer"] else "No")
        assert yn["caption_type"] == (7 if yn["yes_no_answer"] else 6)


def test_images_show_the_scene(scenes):
    s = next(x for x in scenes if len(x.objects) == 1)
    image = render(s)
    assert image.size == (128, 128) and image.mode == "RGB"
    assert png_bytes(s) == png_bytes(s)
    assert png_bytes(s)[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_has_twelve_questions_per_type_on_distinct_test_scenes():
    test = sample_scenes(0, "test", 200)
    items = bench_items(test, 0)
    assert len(items) == 96
    for i, it in enumerate(items):
        assert it["question_type"] == TYPES[i % 8]
        assert it["image_id"].startswith("test-")
    assert len({it["image_id"] for it in items}) == 96
