"""Text about a scene: positions, object lists, the full description and five captions.

Every sentence here is true of the scene by construction, and uses only the world's closed
vocabulary (shapes, colours, sizes, number words, positions, settings), which is what lets the
judge (``judge.py``) check answers by parsing them.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import List, Sequence, Tuple

from .scene import PLURAL, SHAPES, Obj, Scene, referring, relation

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Setting -> the prepositional phrase "on a sandy beach".
SETTING_PLACE = {
    "field": "in a grassy field",
    "beach": "on a sandy beach",
    "snow": "in a snowy field",
    "room": "in a room",
    "night": "against the night sky",
}
RELATION_WORDS = {"left of": "to the left of", "right of": "to the right of",
                  "above": "above", "below": "below"}


def number(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def noun(shape: str, n: int) -> str:
    """ "circle" or "circles" ("object(s)" for shape None)."""
    word = shape or "object"
    return word if n == 1 else PLURAL.get(word, word + "s")


def at(o: Obj) -> str:
    """ "at the top left", "in the middle", "on the left", "at the bottom"."""
    pos = o.position
    if pos == "the middle":
        return "in the middle"
    if pos in ("the left", "the right"):
        return "on " + pos
    return "at " + pos


def article(phrase: str) -> str:
    return "an " + phrase if phrase[0] in "aeiou" else "a " + phrase


def grouped(objs: Sequence[Obj], size: bool = True) -> List[Tuple[int, str, str]]:
    """(count, phrase, shape) groups of identical-looking objects, in scene order."""
    counts = Counter(o.phrase(size) for o in objs)
    seen, out = set(), []
    for o in objs:
        p = o.phrase(size)
        if p not in seen:
            seen.add(p)
            out.append((counts[p], p, o.shape))
    return out


def counted(n: int, phrase: str, shape: str) -> str:
    """ "a large red circle" / "two small blue squares"."""
    if n == 1:
        return article(phrase)
    return number(n) + " " + phrase[: -len(shape)] + noun(shape, n)


def join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def object_list(scene: Scene, size: bool = True) -> str:
    """ "a large red circle and two small blue squares"."""
    return join([counted(n, p, s) for n, p, s in grouped(scene.objects, size)])


def shape_summary(scene: Scene) -> str:
    """ "one circle and two squares"."""
    parts = [f"{number(scene.count(shape=s))} {noun(s, scene.count(shape=s))}"
             for s in SHAPES if scene.count(shape=s)]
    return join(parts)


def relation_sentence(scene: Scene, a: Obj, b: Obj) -> str:
    """ "The red circle is to the left of the blue square." (None-safe callers only)."""
    ra, rb = referring(scene, a), referring(scene, b)
    rel = relation(a, b)
    assert ra and rb and rel
    return f"The {ra} is {RELATION_WORDS[rel]} the {rb}."


def describable_pairs(scene: Scene) -> List[Tuple[Obj, Obj]]:
    """Ordered pairs with unique referring expressions and a relation."""
    return [(a, b) for a in scene.objects for b in scene.objects
            if a is not b and referring(scene, a) and referring(scene, b) and relation(a, b)]


def description(scene: Scene) -> str:
    """The full scene description (the holistic ground-truth answer)."""
    n = len(scene.objects)
    items = [f"{article(o.phrase())} {at(o)}" for o in scene.objects]
    head = (f"The image shows {scene.setting_phrase} with {number(n)} {noun(None, n)}: "
            if n > 1 else f"The image shows {scene.setting_phrase} with one object: ")
    text = head + join(items) + "."
    pairs = describable_pairs(scene)
    if pairs:
        # The first pair in reading order, for a relation sentence.
        text += " " + relation_sentence(scene, *pairs[0])
    return text


def captions(scene: Scene) -> List[str]:
    """Five COCO-style one-sentence captions, all true, in varied forms."""
    rng = random.Random(f"captions:{scene.id}:{scene.render_seed}")
    place = SETTING_PLACE[scene.setting]
    n = len(scene.objects)
    out = [capitalise(f"{object_list(scene)} {place}.")]
    out.append(f"There {'is one object' if n == 1 else f'are {number(n)} objects'} {place}.")
    pairs = describable_pairs(scene)
    if pairs:
        a, b = rng.choice(pairs)
        rel = RELATION_WORDS[relation(a, b)]
        out.append(capitalise(f"{article(a.phrase(False))} {rel} {article(b.phrase(False))}."))
    else:
        o = rng.choice(scene.objects)
        out.append(capitalise(f"{article(o.phrase(False))} {at(o)} of the picture."))
    out.append(f"A picture of {scene.setting_phrase} with {shape_summary(scene)}.")
    o = rng.choice(scene.objects)
    out.append(capitalise(f"{article(o.phrase())} {at(o)}."))
    return out
