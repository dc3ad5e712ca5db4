"""The trained world models (`models/world/`, issue 12) in the real daemon: started with no model
flags, the daemon serves them (they are the embedded default that `scripts/run.sh` serves), they
load through the ordinary checkpoint path, the policy answers held-out world questions correctly
(rated by the world's judge), and the factual reward model ranks grounded answers above
hallucinated ones on held-out pairs, more often than the same model trained without the facts
(the issue's goal of >= 0.9 is an expected failure until a model reaches it: strict, so a model
that reaches it makes the marker go).
Skipped while `models/world/` has no trained checkpoints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "models" / "world"
sys.path.insert(0, str(REPO / "tools" / "world"))

pytestmark = pytest.mark.skipif(not (WORLD / "policy" / "model.safetensors").exists(),
                                reason="no trained world models in models/world")

# Held-out pairs scored through Reward.Score: every open question of the last test scenes.
PAIR_SCENES = 4
# The committed factual model reaches 0.81 on those pairs (26/32; no facts: 0.72, 23/32);
# chance is 0.5.
FACTUAL_FLOOR = 0.75


@pytest.fixture(scope="module")
def served(rlhfd_bin, tmp_path_factory):
    """The daemon with no model flags: the embedded default policy and reward model."""
    from interop import Daemon

    instance = Daemon(rlhfd_bin, tmp_path_factory.mktemp("world-daemon"), model="embedded")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def bench():
    from worldgen.dataset import bench_items
    from worldgen.scene import sample_scenes

    # The default generator's held-out bench (seed 0): never seen in training.
    return bench_items(sample_scenes(0, "test", 400), 0)


@pytest.fixture(scope="module")
def pairs():
    from worldgen.export import preference_pairs
    from worldgen.language import captions
    from worldgen.render import png_bytes
    from worldgen.scene import sample_scenes

    scenes = sample_scenes(0, "test", 400)[-PAIR_SCENES:]
    found = preference_pairs(scenes, {s.id: captions(s) for s in scenes}, 0, "test")
    images = {s.id: png_bytes(s) for s in scenes}
    return [dict(p, png=images[p["scene_id"]]) for p in found]


def _client(daemon):
    from rlhfd_client import RlhfdClient

    return RlhfdClient(daemon.target, timeout=60)


def _accuracy(daemon, pairs, facts: bool) -> float:
    """Share of pairs whose preferred (grounded) response scores strictly higher."""
    right = 0
    with _client(daemon) as client:
        for p in pairs:
            out = client.score(p["question"], p["png"], [p["response_1"], p["response_2"]],
                               facts={"captions": p["captions"]} if facts else None)
            r1, r2 = (r.model_score for r in out.rewards)
            right += (r1 > r2) == (p["preferred"] == 1)
    return right / len(pairs)


@pytest.mark.time_limit(60)
def test_the_default_models_are_the_world_models(served):
    with _client(served) as client:
        info = client.model_info()
    config = json.loads((WORLD / "policy" / "config.json").read_text())
    # The world policy's context (640), not the tiny fixtures' (256).
    assert info.context_length == config["text_config"]["max_position_embeddings"], info
    assert info.policy_model_name == "policy" and info.reward_model_name == "reward", info


@pytest.mark.time_limit(60)
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


@pytest.fixture(scope="module")
def accuracies(served, pairs, rlhfd_bin, tmp_path_factory):
    """Held-out pairwise accuracy of the factual model (the default, scored with the captions)
    and of the no-facts ablation (its own daemon, scored without them) on the same pairs."""
    from interop import Daemon

    factual = _accuracy(served, pairs, facts=True)
    ablation = Daemon(rlhfd_bin, tmp_path_factory.mktemp("nofacts-daemon"), model="default",
                      args=["--reward-model", str(WORLD / "reward-nofacts")]).start()
    try:
        nofacts = _accuracy(ablation, pairs, facts=False)
    finally:
        ablation.stop()
    print(f"held-out pairwise accuracy on {len(pairs)} pairs: factual {factual:.3f}, "
          f"no facts {nofacts:.3f}")
    return factual, nofacts


@pytest.mark.time_limit(120)
def test_the_factual_reward_model_prefers_grounded_answers(accuracies):
    factual, nofacts = accuracies
    assert factual >= FACTUAL_FLOOR, (factual, nofacts)
    assert factual > nofacts, (factual, nofacts)  # the paper's ablation


@pytest.mark.xfail(strict=True, reason="issue 12's goal (>= 0.9) is not reached by the committed "
                                       "factual model (0.79 on 400 test pairs: models/README.md)")
def test_the_factual_reward_model_meets_the_issue_goal(accuracies):
    factual, _ = accuracies
    assert factual >= 0.9, factual
