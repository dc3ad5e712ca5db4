"""Questions in MMHal-Bench's eight types, with answers derived from the scene.

A question is a *spec* (a dict: its type, kind and the words it refers to) plus its text. The
answer is a function of (spec, scene), so the same question can be answered about a changed
scene: that is how ``hallucinate.py`` makes fluent but wrong answers. Each type also has
multiple-choice (A-D, A-OKVQA style) and yes/no (VQA-v2 style) forms, whose answers start with
"X." or "Yes"/"No" as LLaVA-RLHF's symbolic rewards expect.
"""

from __future__ import annotations

import random
from typing import Callable, Dict, List, Optional

from .language import (RELATION_WORDS, SETTING_PLACE, article, at, capitalise, counted,
                       description, join, noun, number)
from .scene import (COLOURS, OPPOSITE, SETTINGS, SHAPES, SIZES, Obj, Scene, referring,
                    relation, resolve)

# MMHal-Bench's question_type values, in its file order (type = index % 8).
TYPES = ("attribute", "adversarial", "comparison", "counting", "relation", "environment",
         "holistic", "other")
MC_SUFFIX = "Answer with the option's letter from the given choices directly."
LETTERS = "ABCD"
# LLaVA-RLHF's AnswerType / caption_type values (data_utils/constants.py).
CAPTION_TYPE = {"general": 1, "A": 2, "B": 3, "C": 4, "D": 5, "no": 6, "yes": 7}


def _one(scene: Scene, ref: str) -> Optional[Obj]:
    objs = resolve(scene, ref)
    return objs[0] if objs else None


def _absent(ref: str) -> str:
    return f"There is no {ref} in the image."


# --- answers --------------------------------------------------------------------------------
def answer(spec: dict, scene: Scene) -> str:
    """The ground-truth answer to `spec` about `scene` (any scene, not only the asked one)."""
    return ANSWERS[spec["kind"]](spec, scene)


def _a_attribute(spec: dict, scene: Scene) -> str:
    if spec["attr"] == "shape":
        objs = scene.matching(colour=spec["colour"])
        if not objs:
            return _absent(f"{spec['colour']} object")
        return f"The {spec['colour']} object is {article(objs[0].shape)}."
    o = _one(scene, spec["ref"])
    if o is None:
        return _absent(spec["ref"])
    return f"The {spec['ref']} is {getattr(o, spec['attr'])}."


def _a_adversarial(spec: dict, scene: Scene) -> str:
    o = _one(scene, spec["ref"])
    if o is None:
        return _absent(spec["ref"])
    if spec["ask"] == "colour":
        return f"The {spec['ref']} is {o.colour}."
    if spec["ask"] == "size":
        return f"The {spec['ref']} is {o.size}."
    return f"The {spec['ref']} is {at(o)}."


def _a_where(spec: dict, scene: Scene) -> str:
    o = _one(scene, spec["ref"])
    return _absent(spec["ref"]) if o is None else f"The {spec['ref']} is {at(o)}."


def _a_bigger(spec: dict, scene: Scene) -> str:
    a, b = _one(scene, spec["a"]), _one(scene, spec["b"])
    if a is None or b is None:
        return _absent(spec["a"] if a is None else spec["b"])
    if a.size == b.size:
        return f"The {spec['a']} and the {spec['b']} are the same size."
    big, small = (spec["a"], spec["b"]) if a.size == "large" else (spec["b"], spec["a"])
    return f"The {big} is bigger than the {small}."


def _a_same_colour(spec: dict, scene: Scene) -> str:
    a, b = _one(scene, spec["a"]), _one(scene, spec["b"])
    if a is None or b is None:
        return _absent(spec["a"] if a is None else spec["b"])
    if a.colour == b.colour:
        return f"Yes, the {spec['a']} and the {spec['b']} are both {a.colour}."
    return f"No, the {spec['a']} is {a.colour} and the {spec['b']} is {b.colour}."


def _a_more(spec: dict, scene: Scene) -> str:
    s1, s2 = spec["s1"], spec["s2"]
    n1, n2 = scene.count(shape=s1), scene.count(shape=s2)
    tail = f"{number(n1)} {noun(s1, n1)} and {number(n2)} {noun(s2, n2)}"
    if n1 == n2:
        return f"There are as many {noun(s1, 2)} as {noun(s2, 2)}: {tail}."
    more, less = (s1, s2) if n1 > n2 else (s2, s1)
    return f"There are more {noun(more, 2)} than {noun(less, 2)}: {tail}."


def _count_phrase(spec: dict) -> str:
    return " ".join(w for w in (spec.get("colour"), spec.get("shape") or "object") if w)


def _a_count(spec: dict, scene: Scene) -> str:
    n = scene.count(shape=spec.get("shape"), colour=spec.get("colour"))
    words = _count_phrase(spec).split()
    if n == 0:
        return f"There are no {' '.join(words[:-1] + [noun(words[-1], 2)])} in the image."
    phrase = " ".join(words[:-1] + [noun(words[-1], n)])
    return f"There {'is' if n == 1 else 'are'} {number(n)} {phrase} in the image."


def _a_relation(spec: dict, scene: Scene) -> str:
    a, b = _one(scene, spec["a"]), _one(scene, spec["b"])
    if a is None or b is None:
        return _absent(spec["a"] if a is None else spec["b"])
    rel = relation(a, b)
    if rel is None:
        return f"The {spec['a']} and the {spec['b']} are in the same place."
    return f"The {spec['a']} is {RELATION_WORDS[rel]} the {spec['b']}."


def _a_setting(spec: dict, scene: Scene) -> str:
    place = SETTING_PLACE[scene.setting]
    if spec.get("ask") == "indoors":
        return f"It is {'indoors' if scene.setting == 'room' else 'outdoors'}, {place}."
    return f"The picture was taken {place}."


def _a_describe(spec: dict, scene: Scene) -> str:
    return description(scene)


def _a_colours(spec: dict, scene: Scene) -> str:
    colours = [c for c in COLOURS if scene.count(colour=c)]
    if len(scene.objects) == 1:
        return f"The object is {colours[0]}."
    if len(colours) == 1:
        return f"All the objects are {colours[0]}."
    return f"The objects are {join(colours)}."


ANSWERS: Dict[str, Callable[[dict, Scene], str]] = {
    "attribute": _a_attribute, "adversarial": _a_adversarial, "where": _a_where,
    "bigger": _a_bigger, "same_colour": _a_same_colour, "more": _a_more, "count": _a_count,
    "relation": _a_relation, "setting": _a_setting, "describe": _a_describe,
    "colours": _a_colours,
}


# --- questions ------------------------------------------------------------------------------
def _unique_objs(scene: Scene) -> List[Obj]:
    return [o for o in scene.objects if referring(scene, o)]


def q_attribute(scene: Scene, rng: random.Random) -> Optional[dict]:
    objs = _unique_objs(scene)
    choices = []
    for o in objs:
        ref = referring(scene, o)
        if " " not in ref:  # shape only: the colour is not given away
            choices.append({"kind": "attribute", "attr": "colour", "ref": ref,
                            "text": f"What colour is the {ref}?"})
        if len(ref.split()) <= 2 and o.size not in ref:
            choices.append({"kind": "attribute", "attr": "size", "ref": ref,
                            "text": f"Is the {ref} large or small?"})
        if scene.count(colour=o.colour) == 1:
            choices.append({"kind": "attribute", "attr": "shape", "colour": o.colour,
                            "text": f"What shape is the {o.colour} object?"})
    return rng.choice(choices) if choices else None


def q_adversarial(scene: Scene, rng: random.Random) -> Optional[dict]:
    absent_shapes = [s for s in SHAPES if not scene.count(shape=s)]
    options = []
    for s in absent_shapes:
        options.append({"kind": "adversarial", "ask": "colour", "ref": s,
                        "text": f"What colour is the {s}?"})
        options.append({"kind": "adversarial", "ask": "size", "ref": s,
                        "text": f"Is the {s} large or small?"})
    # A present shape in an absent colour: the harder trap.
    for o in scene.objects:
        for c in COLOURS:
            if not scene.count(shape=o.shape, colour=c):
                options.append({"kind": "adversarial", "ask": "where", "ref": f"{c} {o.shape}",
                                "text": f"Where is the {c} {o.shape}?"})
    return rng.choice(options) if options else None


def q_comparison(scene: Scene, rng: random.Random) -> Optional[dict]:
    objs = _unique_objs(scene)
    options = []
    for i, a in enumerate(objs):
        for b in objs[i + 1:]:
            ra, rb = referring(scene, a), referring(scene, b)
            if a.size != b.size and "large" not in ra + rb and "small" not in ra + rb:
                options.append({"kind": "bigger", "a": ra, "b": rb,
                                "text": f"Which is bigger, the {ra} or the {rb}?"})
            if " " not in ra and " " not in rb:
                options.append({"kind": "same_colour", "a": ra, "b": rb,
                                "text": f"Do the {ra} and the {rb} have the same colour?"})
    present = [s for s in SHAPES if scene.count(shape=s)]
    for i, s1 in enumerate(present):
        for s2 in present[i + 1:]:
            if scene.count(shape=s1) != scene.count(shape=s2):
                options.append({"kind": "more", "s1": s1, "s2": s2,
                                "text": f"Are there more {noun(s1, 2)} or {noun(s2, 2)}?"})
    return rng.choice(options) if options else None


def q_counting(scene: Scene, rng: random.Random) -> dict:
    options = [{"kind": "count", "text": "How many objects are there in the image?"}]
    for s in SHAPES:
        if scene.count(shape=s):
            options.append({"kind": "count", "shape": s,
                            "text": f"How many {noun(s, 2)} are there?"})
    for c in COLOURS:
        if scene.count(colour=c) and len(scene.objects) > 1:
            options.append({"kind": "count", "colour": c,
                            "text": f"How many {c} objects are there?"})
    return rng.choice(options)


def q_relation(scene: Scene, rng: random.Random) -> Optional[dict]:
    options = []
    objs = _unique_objs(scene)
    for a in objs:
        ra = referring(scene, a)
        options.append({"kind": "where", "ref": ra, "text": f"Where is the {ra} in the image?"})
        for b in objs:
            rel = relation(a, b) if a is not b else None
            if rel is None:
                continue
            rb = referring(scene, b)
            text = (f"Is the {ra} to the left or to the right of the {rb}?"
                    if rel in ("left of", "right of") else f"Is the {ra} above or below the {rb}?")
            options.append({"kind": "relation", "a": ra, "b": rb, "text": text})
    return rng.choice(options) if options else None


def q_environment(scene: Scene, rng: random.Random) -> dict:
    return rng.choice([
        {"kind": "setting", "text": "Where was this picture taken?"},
        {"kind": "setting", "text": "What is the setting of this image?"},
        {"kind": "setting", "ask": "indoors", "text": "Is this scene indoors or outdoors?"},
    ])


def q_holistic(scene: Scene, rng: random.Random) -> dict:
    return {"kind": "describe", "text": rng.choice(
        ["Describe the image.", "What do you see in this picture?",
         "Describe the image in detail."])}


def q_other(scene: Scene, rng: random.Random) -> dict:
    return {"kind": "colours", "text": "What colours are the objects in the image?"}


GENERATORS = {"attribute": q_attribute, "adversarial": q_adversarial,
              "comparison": q_comparison, "counting": q_counting, "relation": q_relation,
              "environment": q_environment, "holistic": q_holistic, "other": q_other}


def make_question(scene: Scene, qtype: str, rng: random.Random) -> Optional[dict]:
    """An open question of `qtype` about `scene` with its answer, or None if the scene has no
    question of that type (e.g. comparison needs two objects)."""
    spec = GENERATORS[qtype](scene, rng)
    if spec is None:
        return None
    text = spec.pop("text")
    return {"type": qtype, "form": "open", "question": text, "spec": spec,
            "answer": answer(spec, scene)}


# --- multiple-choice and yes/no forms -------------------------------------------------------
def _mc(question: str, correct: str, pool: List[str], rng: random.Random,
        show: Callable[[str], str] = str) -> dict:
    distractors = rng.sample([p for p in pool if p != correct], 3)
    options = distractors + [correct]
    rng.shuffle(options)
    index = options.index(correct)
    lines = "\n".join(f"{LETTERS[i]}. {show(o)}" for i, o in enumerate(options))
    return {"question": f"{question}\n{lines}\n{MC_SUFFIX}",
            "answer": f"{LETTERS[index]}. {capitalise(show(correct))}.",
            "choices": [show(o) for o in options], "correct_choice": index}


def make_mc(scene: Scene, rng: random.Random) -> Optional[dict]:
    """A four-option question (colour, shape, count or setting) with its lettered answer."""
    shape_unique = [o for o in scene.objects if scene.count(shape=o.shape) == 1]
    kinds = ["count", "setting"] + (["colour"] if shape_unique else []) + \
        (["shape"] if any(scene.count(colour=o.colour) == 1 for o in scene.objects) else [])
    kind = rng.choice(kinds)
    if kind == "colour":
        o = rng.choice(shape_unique)
        out = _mc(f"What colour is the {o.shape}?", o.colour, list(COLOURS), rng)
        qtype = "attribute"
    elif kind == "shape":
        o = rng.choice([o for o in scene.objects if scene.count(colour=o.colour) == 1])
        out = _mc(f"What shape is the {o.colour} object?", o.shape, list(SHAPES), rng)
        qtype = "attribute"
    elif kind == "count":
        n = len(scene.objects)
        out = _mc("How many objects are there in the image?", str(n),
                  [str(i) for i in range(1, 6)], rng, show=lambda s: number(int(s)))
        qtype = "counting"
    else:
        out = _mc("Where was this picture taken?", scene.setting, sorted(SETTINGS), rng,
                  show=lambda s: SETTINGS[s][0])
        qtype = "environment"
    letter = LETTERS[out["correct_choice"]]
    return dict(out, type=qtype, form="mc", spec={"kind": "mc"}, caption_type=CAPTION_TYPE[letter])


def make_yesno(scene: Scene, rng: random.Random) -> dict:
    """A yes/no question (presence of an object, a colour, a relation), answered "Yes, ..." or
    "No, ..." with the reason."""
    kind = rng.choice(["present", "absent", "relation"])
    pairs = [(a, b) for a in _unique_objs(scene) for b in _unique_objs(scene)
             if a is not b and relation(a, b)]
    if kind == "relation" and pairs:
        a, b = rng.choice(pairs)
        ra, rb = referring(scene, a), referring(scene, b)
        rel = relation(a, b)
        asked = rel if rng.random() < 0.5 else OPPOSITE[rel]
        question = f"Is the {ra} {RELATION_WORDS[asked]} the {rb}?"
        yes = asked == rel
        ans = (f"Yes, the {ra} is {RELATION_WORDS[rel]} the {rb}." if yes else
               f"No, the {ra} is {RELATION_WORDS[rel]} the {rb}.")
        qtype = "relation"
    elif kind == "present" or kind == "relation":
        o = rng.choice(scene.objects)
        question = f"Is there {article(o.phrase(False))} in the image?"
        yes, qtype = True, "attribute"
        ans = f"Yes, there is {article(o.phrase(False))} {at(o)}."
    else:
        options = [(c, s) for c in COLOURS for s in SHAPES if not scene.count(shape=s, colour=c)]
        c, s = rng.choice(options)
        question = f"Is there {article(c + ' ' + s)} in the image?"
        yes, qtype = False, "adversarial"
        ans = f"No, there is no {c} {s} in the image."
    return {"type": qtype, "form": "yesno", "question": question, "answer": ans,
            "spec": {"kind": "yesno"}, "yes_no_answer": yes,
            "caption_type": CAPTION_TYPE["yes" if yes else "no"]}
