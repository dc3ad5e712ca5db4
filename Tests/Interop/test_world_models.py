"""The trained world models (`models/world/`, issue 12) in the real daemon: they load through the
ordinary checkpoint path, the policy answers held-out world questions correctly (rated by the
world's judge), and the factual reward model ranks grounded answers above hallucinated ones.
Skipped while `models/world/` has no trained checkpoints.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "models" / "world"
sys.path.insert(0, str(REPO / "tools" / "world"))

pytestmark = pytest.mark.skipif(not (WORLD / "policy" / "model.safetensors").exists(),
                                reason="no trained world models in models/world")


@pytest.fixture(scope="module")
def served(rlhfd_bin, tmp_path_factory):
    from interop import Daemon

    instance = Daemon(rlhfd_bin, tmp_path_factory.mktemp("world-daemon"),
                      model=str(WORLD / "policy"),
                      args=["--reward-model", str(WORLD / "reward")])
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def bench():
    from worldgen.dataset import bench_items
    from worldgen.scene import sample_scenes

    # The default generator's held-out bench (seed 0): never seen in training.
    return bench_items(sample_scenes(0, "test", 400), 0)


def _client(served):
    from rlhfd_client import RlhfdClient

    return RlhfdClient(served.target, timeout=60)


@pytest.mark.time_limit(120)
def test_the_policy_answers_held_out_questions(served, bench):
    from worldgen.judge import judge
    from worldgen.render import png_bytes
    from worldgen.scene import scene_from_dict

    items = [it for it in bench if it["question_type"] in ("environment", "counting")][:8]
    with _client(served) as client:
        scores = []
        for it in items:
            scene = scene_from_dict(it["scene"])
            out = client.generate(it["question"], images=[png_bytes(scene)], max_new_tokens=48)
            scores.append(judge(it, scene, out.text).score)
    assert sum(s >= 5 for s in scores) >= len(items) // 2, scores


@pytest.mark.time_limit(180)
def test_the_factual_reward_model_prefers_grounded_answers(served):
    from worldgen.export import preference_pairs
    from worldgen.language import captions
    from worldgen.render import png_bytes
    from worldgen.scene import sample_scenes

    scenes = sample_scenes(0, "test", 400)[-6:]
    pairs = preference_pairs(scenes, {s.id: captions(s) for s in scenes}, 0, "test")
    random.Random(0).shuffle(pairs)
    by_id = {s.id: s for s in scenes}
    right = 0
    with _client(served) as client:
        for p in pairs[:12]:
            out = client.score(p["question"], png_bytes(by_id[p["scene_id"]]),
                               [p["response_1"], p["response_2"]],
                               facts={"captions": p["captions"]})
            r1, r2 = (r.model_score for r in out.rewards)
            right += (r1 > r2) == (p["preferred"] == 1)
    assert right >= 9, right
