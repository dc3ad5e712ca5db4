"""Writes a world dataset to disk: splits of scenes, images, questions and the mini bench.

Layout under the output directory (all JSON is UTF-8, keys sorted, so files are reproducible):

    images/{scene_id}.png          every scene's image (128x128 RGB)
    {split}/scenes.jsonl           one scene per line: facts, description, five captions
    {split}/questions.jsonl        per scene: one open question of each available type, one
                                   multiple-choice and one yes/no question, with answers
    bench.json                     mini MMHal-Bench: 96+ test questions, 12+ per type, in
                                   MMHal-Bench's response_template layout (+ spec and scene)
    image_to_caption.json          image file name -> its five captions (LLaVA-RLHF's file)
    manifest.json                  seed, split sizes, versions

Splits are disjoint by content: test scenes are drawn first, then validation scenes that equal
no test scene, then training scenes that equal neither.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

from . import __version__
from .language import captions, description
from .questions import TYPES, make_mc, make_question, make_yesno
from .render import png_bytes
from .scene import SETTINGS, Scene, sample_scenes, scene_from_dict

SPLITS = ("test", "val", "train")


def make_splits(seed: int, sizes: Dict[str, int]) -> Dict[str, List[Scene]]:
    """Disjoint scene splits (test first, so its content never depends on the train size)."""
    out: Dict[str, List[Scene]] = {}
    seen: List = []
    for split in SPLITS:
        out[split] = sample_scenes(seed, split, sizes[split], exclude=seen)
        seen += [s.key() for s in out[split]]
    return out


def image_name(scene: Scene) -> str:
    return f"{scene.id}.png"


def scene_record(scene: Scene) -> dict:
    return dict(scene.facts(), image=image_name(scene), render_seed=scene.render_seed,
                description=description(scene), captions=captions(scene))


def scene_questions(scene: Scene, seed: int) -> List[dict]:
    """One open question of each type the scene allows, one multiple-choice, one yes/no."""
    rng = random.Random(f"{seed}:questions:{scene.id}")
    items = [make_question(scene, t, rng) for t in TYPES]
    items = [q for q in items if q is not None]
    items += [q for q in (make_mc(scene, rng), make_yesno(scene, rng)) if q is not None]
    for i, q in enumerate(items):
        q["id"] = f"{scene.id}-q{i}"
        q["scene_id"] = scene.id
        q["image"] = image_name(scene)
        q.setdefault("caption_type", 1)
    return items


def bench_items(scenes: Sequence[Scene], seed: int, per_type: int = 12) -> List[dict]:
    """`per_type` questions of each of the eight types on distinct test scenes, ordered so that
    type = index % 8 as in MMHal-Bench."""
    rng = random.Random(f"{seed}:bench")
    pool = list(scenes)
    items = []
    for i in range(per_type * len(TYPES)):
        qtype = TYPES[i % len(TYPES)]
        for j, scene in enumerate(pool):
            q = make_question(scene, qtype, rng)
            if q is not None:
                pool.pop(j)
                break
        else:
            raise ValueError(f"not enough test scenes for {per_type} {qtype} questions")
        items.append({
            "id": i,
            "question_type": qtype,
            "question_topic": scene.setting,
            "image_id": scene.id,
            "image_src": f"images/{image_name(scene)}",
            "image_content": sorted({o.phrase(False) for o in scene.objects})
            + [SETTINGS[scene.setting][0]],
            "question": q["question"],
            "gt_answer": q["answer"],
            "model_answer": "",
            "spec": q["spec"],
            "scene": scene_record(scene),
        })
    return items


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")


def generate(out: Path, seed: int, sizes: Dict[str, int], per_type: int = 12,
             progress=None) -> dict:
    """Writes the whole dataset (see the module docstring); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    splits = make_splits(seed, sizes)
    image_to_caption = {}
    counts = {}
    for split, scenes in splits.items():
        (out / split).mkdir(exist_ok=True)
        records, questions = [], []
        for k, scene in enumerate(scenes):
            (out / "images" / image_name(scene)).write_bytes(png_bytes(scene))
            record = scene_record(scene)
            records.append(record)
            image_to_caption[record["image"]] = record["captions"]
            questions += scene_questions(scene, seed)
            if progress and (k + 1) % 500 == 0:
                progress(f"{split}: {k + 1}/{len(scenes)} scenes")
        write_jsonl(out / split / "scenes.jsonl", records)
        counts[split] = {"scenes": len(records),
                         "questions": write_jsonl(out / split / "questions.jsonl", questions)}
    bench = bench_items(splits["test"], seed, per_type)
    write_json(out / "bench.json", bench)
    write_json(out / "image_to_caption.json", image_to_caption)
    manifest = {"seed": seed, "sizes": sizes, "counts": counts, "bench_items": len(bench),
                "worldgen_version": __version__}
    write_json(out / "manifest.json", manifest)
    return manifest


def load_scenes(out: Path, split: str) -> List[Scene]:
    return [scene_from_dict(r) for r in read_jsonl(out / split / "scenes.jsonl")]
