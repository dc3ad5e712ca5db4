"""The scene model: objects on a 3x3 grid over a background setting, and a seeded sampler.

An object occupies one grid cell (row 0 = top, column 0 = left), so positions and spatial
relations are exact and never ambiguous: A is "to the left of" B iff A's column is smaller;
"above" iff A's row is smaller. Relations are only stated between objects that differ in
exactly one axis or whose difference is read along the dominant axis (see ``relation``).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

SHAPES: Tuple[str, ...] = ("circle", "square", "triangle", "diamond")
PLURAL: Dict[str, str] = {s: s + "s" for s in SHAPES}
COLOURS: Tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "white")
SIZES: Tuple[str, ...] = ("small", "large")
# Settings: name -> (noun phrase used in text, keywords the judge recognises).
SETTINGS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "field": ("a grassy field", ("grass", "grassy")),
    "beach": ("a sandy beach", ("beach", "sand", "sandy")),
    "snow": ("a snowy field", ("snow", "snowy")),
    "room": ("a room", ("room", "indoors", "indoor")),
    "night": ("the night sky", ("night",)),
}
ROW_WORDS = ("top", "middle", "bottom")
COL_WORDS = ("left", "middle", "right")
MAX_OBJECTS = 5


@dataclass(frozen=True)
class Obj:
    """One object: what it is and which grid cell it sits in."""

    shape: str
    colour: str
    size: str
    row: int
    col: int

    @property
    def position(self) -> str:
        """Where it is, in words: "the top left", "the middle", "the bottom"..."""
        r, c = ROW_WORDS[self.row], COL_WORDS[self.col]
        if r == "middle" and c == "middle":
            return "the middle"
        if r == "middle":
            return "the " + c
        if c == "middle":
            return "the " + r
        return f"the {r} {c}"

    def phrase(self, size: bool = True) -> str:
        """"large red circle" (with the size) or "red circle"."""
        return f"{self.size} {self.colour} {self.shape}" if size else f"{self.colour} {self.shape}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Scene:
    """A whole scene: an id, a setting and 1..MAX_OBJECTS objects in distinct cells."""

    id: str
    setting: str
    objects: Tuple[Obj, ...]
    # Per-scene seed for the renderer's jitter (positions inside cells, sizes).
    render_seed: int = 0

    @property
    def setting_phrase(self) -> str:
        return SETTINGS[self.setting][0]

    def key(self) -> Tuple:
        """Canonical content (ignores id and render seed): equal keys = the same scene."""
        return (self.setting, tuple(sorted(dataclasses.astuple(o) for o in self.objects)))

    def matching(self, shape: Optional[str] = None, colour: Optional[str] = None,
                 size: Optional[str] = None) -> List[Obj]:
        """Objects with every given attribute."""
        return [o for o in self.objects
                if (shape is None or o.shape == shape) and (colour is None or o.colour == colour)
                and (size is None or o.size == size)]

    def count(self, **attrs: Optional[str]) -> int:
        return len(self.matching(**attrs))

    def replace(self, **changes) -> "Scene":
        return dataclasses.replace(self, **changes)

    def facts(self) -> dict:
        """Structured ground truth: setting, objects, counts and all pairwise relations."""
        objs = list(self.objects)
        return {
            "id": self.id,
            "setting": self.setting,
            "setting_phrase": self.setting_phrase,
            "objects": [dict(o.to_dict(), position=o.position) for o in objs],
            "count": len(objs),
            "count_by_shape": {s: self.count(shape=s) for s in SHAPES if self.count(shape=s)},
            "count_by_colour": {c: self.count(colour=c) for c in COLOURS if self.count(colour=c)},
            "relations": [
                {"a": i, "relation": rel, "b": j}
                for i, a in enumerate(objs) for j, b in enumerate(objs)
                if i != j for rel in relations(a, b)
            ],
        }


def relations(a: Obj, b: Obj) -> List[str]:
    """Every true relation word of a to b: "left of", "right of", "above", "below"."""
    out = []
    if a.col < b.col:
        out.append("left of")
    if a.col > b.col:
        out.append("right of")
    if a.row < b.row:
        out.append("above")
    if a.row > b.row:
        out.append("below")
    return out


def relation(a: Obj, b: Obj) -> Optional[str]:
    """The one relation to state about a and b: horizontal if columns differ, else vertical."""
    if a.col != b.col:
        return "left of" if a.col < b.col else "right of"
    if a.row != b.row:
        return "above" if a.row < b.row else "below"
    return None


OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def referring(scene: Scene, o: Obj) -> Optional[str]:
    """The shortest description that picks out exactly `o`: "circle", "red circle",
    "large red circle", or None if even that is shared."""
    if scene.count(shape=o.shape) == 1:
        return o.shape
    if scene.count(shape=o.shape, colour=o.colour) == 1:
        return f"{o.colour} {o.shape}"
    if scene.count(shape=o.shape, colour=o.colour, size=o.size) == 1:
        return o.phrase()
    return None


def resolve(scene: Scene, ref: str) -> List[Obj]:
    """The objects a referring expression ("red circle", "large red circle") matches."""
    words = ref.split()
    shape = words[-1]
    colour = next((w for w in words if w in COLOURS), None)
    size = next((w for w in words if w in SIZES), None)
    return scene.matching(shape=shape, colour=colour, size=size)


def sample_scene(rng: random.Random, scene_id: str) -> Scene:
    """A random scene: a setting and 1..5 objects in distinct cells.

    Attribute choices are biased so that shapes and colours repeat often enough for counting
    and comparison questions (a second object copies the first's shape or colour 40% of the
    time)."""
    setting = rng.choice(sorted(SETTINGS))
    n = rng.choices(range(1, MAX_OBJECTS + 1), weights=(2, 4, 4, 3, 2))[0]
    cells = rng.sample(range(9), n)
    objs: List[Obj] = []
    for cell in cells:
        shape, colour = rng.choice(SHAPES), rng.choice(COLOURS)
        if objs and rng.random() < 0.4:
            base = rng.choice(objs)
            if rng.random() < 0.5:
                shape = base.shape
            else:
                colour = base.colour
        objs.append(Obj(shape, colour, rng.choice(SIZES), cell // 3, cell % 3))
    objs.sort(key=lambda o: (o.row, o.col))
    return Scene(scene_id, setting, tuple(objs), rng.getrandbits(32))


def sample_scenes(seed: int, split: str, n: int, exclude: Sequence[Tuple] = ()) -> List[Scene]:
    """`n` scenes of `split`, deterministic for (seed, split), none equal to another scene of
    the split or to a key in `exclude` (so splits never overlap)."""
    rng = random.Random(f"{seed}:{split}")
    seen = set(exclude)
    out: List[Scene] = []
    while len(out) < n:
        scene = sample_scene(rng, f"{split}-{len(out):05d}")
        if scene.key() in seen:
            continue
        seen.add(scene.key())
        out.append(scene)
    return out


def scene_from_dict(d: dict) -> Scene:
    """Inverse of the `facts()` object list plus id/setting (for reading a dataset back)."""
    objs = tuple(Obj(o["shape"], o["colour"], o["size"], o["row"], o["col"]) for o in d["objects"])
    return Scene(d["id"], d["setting"], objs, d.get("render_seed", 0))
