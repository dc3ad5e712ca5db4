"""Fluent but hallucinated answers, for preference pairs (grounded vs hallucinated).

A hallucinated answer is the *true* answer to the same question about a slightly different
scene: one object recoloured, reshaped, resized, moved, added or removed, or the setting
changed. It reads exactly like a grounded answer (same templates), so a reward model can only
tell them apart by looking at the image or the captions. Each candidate is kept only if the
judge rates it as a hallucination about the real scene.
"""

from __future__ import annotations

import random
from typing import Callable, List, Optional, Tuple

from .judge import judge
from .questions import answer
from .scene import COLOURS, SETTINGS, SHAPES, SIZES, Obj, Scene

Corruption = Callable[[Scene, random.Random], Optional[Scene]]


def _with(scene: Scene, objs: List[Obj]) -> Scene:
    return scene.replace(objects=tuple(sorted(objs, key=lambda o: (o.row, o.col))))


def _swap(scene: Scene, rng: random.Random, attr: str, values) -> Optional[Scene]:
    objs = list(scene.objects)
    i = rng.randrange(len(objs))
    options = [v for v in values if v != getattr(objs[i], attr)]
    objs[i] = Obj(**dict(objs[i].to_dict(), **{attr: rng.choice(options)}))
    return _with(scene, objs)


def recolour(scene, rng):
    return _swap(scene, rng, "colour", COLOURS)


def reshape(scene, rng):
    return _swap(scene, rng, "shape", SHAPES)


def resize(scene, rng):
    return _swap(scene, rng, "size", SIZES)


def _free_cells(scene: Scene) -> List[int]:
    used = {o.row * 3 + o.col for o in scene.objects}
    return [c for c in range(9) if c not in used]


def add(scene, rng):
    free = _free_cells(scene)
    if not free:
        return None
    cell = rng.choice(free)
    o = Obj(rng.choice(SHAPES), rng.choice(COLOURS), rng.choice(SIZES), cell // 3, cell % 3)
    return _with(scene, list(scene.objects) + [o])


def remove(scene, rng):
    if len(scene.objects) < 2:
        return None
    objs = list(scene.objects)
    objs.pop(rng.randrange(len(objs)))
    return _with(scene, objs)


def move(scene, rng):
    free = _free_cells(scene)
    objs = list(scene.objects)
    i = rng.randrange(len(objs))
    cell = rng.choice(free)
    objs[i] = Obj(**dict(objs[i].to_dict(), row=cell // 3, col=cell % 3))
    return _with(scene, objs)


def resetting(scene, rng):
    return scene.replace(setting=rng.choice([s for s in sorted(SETTINGS) if s != scene.setting]))


def add_matching(scene, rng, question):
    """Adds the object a question refers to (turns "there is no triangle" into a description)."""
    ref = question["spec"].get("ref")
    free = _free_cells(scene)
    if not ref or not free:
        return None
    words = ref.split()
    cell = rng.choice(free)
    colour = next((w for w in words if w in COLOURS), rng.choice(COLOURS))
    o = Obj(words[-1], colour, rng.choice(SIZES), cell // 3, cell % 3)
    return _with(scene, list(scene.objects) + [o])


CORRUPTIONS: Tuple[Tuple[str, Corruption], ...] = (
    ("recolour", recolour), ("reshape", reshape), ("resize", resize), ("add", add),
    ("remove", remove), ("move", move), ("setting", resetting),
)


def hallucinated_answer(question: dict, scene: Scene, rng: random.Random,
                        tries: int = 24) -> Optional[Tuple[str, str]]:
    """(answer, corruption name) for a hallucinated answer to `question`, or None."""
    truth = answer(question["spec"], scene)
    for _ in range(tries):
        if question["spec"]["kind"] == "adversarial" and rng.random() < 0.7:
            name, changed = "add", add_matching(scene, rng, question)
        else:
            name, fn = rng.choice(CORRUPTIONS)
            changed = fn(scene, rng)
        if changed is None:
            continue
        try:
            text = answer(question["spec"], changed)
        except (IndexError, KeyError):
            continue
        if text != truth and judge(question, scene, text).score < 3:
            return text, name
    return None
