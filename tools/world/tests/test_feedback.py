"""Preference pairs and RL prompts: hallucinated responses are hallucinations, layouts are
LLaVA-RLHF's, and the Feedback API messages are valid."""

import json
import random

import pytest

from worldgen.dataset import scene_record
from worldgen.export import (llava_preference, llava_rl_prompt, load_pb, preference_message,
                             preference_pairs, prompt_batches, rl_prompts)
from worldgen.hallucinate import hallucinated_answer
from worldgen.judge import judge
from worldgen.questions import TYPES, make_question
from worldgen.render import png_bytes
from worldgen.scene import sample_scenes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    scenes = sample_scenes(5, "val", 30)
    images = tmp_path_factory.mktemp("images")
    for s in scenes:
        (images / f"{s.id}.png").write_bytes(png_bytes(s))
    caps = {s.id: scene_record(s)["captions"] for s in scenes}
    return scenes, caps, images


def test_hallucinated_answers_are_judged_hallucinated():
    rng = random.Random(2)
    made = 0
    for s in sample_scenes(9, "train", 150):
        for t in TYPES:
            question = make_question(s, t, rng)
            if question is None:
                continue
            out = hallucinated_answer(question, s, rng)
            if out is None:
                continue
            made += 1
            assert out[0] != question["answer"]
            assert judge(question, s, out[0]).score < 3
    assert made > 900


def test_preference_pairs(world):
    scenes, caps, _ = world
    pairs = preference_pairs(scenes, caps, 0, "val")
    assert len(pairs) > 6 * len(scenes)
    assert {p["preferred"] for p in pairs} == {1, 2}
    for p in pairs:
        good = p[f"response_{p['preferred']}"]
        assert not p[f"response_{p['preferred']}_hallucinated"]
        assert p[f"response_{3 - p['preferred']}_hallucinated"]
        assert good != p[f"response_{3 - p['preferred']}"]
        assert len(p["captions"]) == 5
        rec = llava_preference(p)
        assert set(rec) >= {"id", "image", "conversations", "output_1", "output_2",
                            "preference", "hallucination"}
        assert rec["conversations"][0] == {"from": "human", "value": "<image>\n" + p["question"]}
        assert rec["conversations"][-1]["from"] == "gpt"
        json.dumps(rec)
    assert pairs == preference_pairs(scenes, caps, 0, "val")  # deterministic


def test_rl_prompts(world):
    scenes, caps, _ = world
    prompts = rl_prompts(scenes, caps, 0)
    types = {r["caption_type"] for r in prompts}
    assert 1 in types and types & {2, 3, 4, 5} and types & {6, 7}
    for r in prompts:
        rec = llava_rl_prompt(r)
        assert set(rec) >= {"id", "image", "conversations", "captions", "caption_type",
                            "length_bonus"}
        assert rec["length_bonus"] > 0
        if 2 <= r["caption_type"] <= 5:
            assert r["correct_choice"] == r["caption_type"] - 2
            assert r["answer"].startswith("ABCD"[r["correct_choice"]] + ".")
        if r["caption_type"] in (6, 7):
            assert r["yes_no_answer"] == (r["caption_type"] == 7)


def test_feedback_api_messages(world):
    pytest.importorskip("google.protobuf")
    scenes, caps, images = world
    pb = load_pb()
    pairs = preference_pairs(scenes[:3], caps, 0, "val")
    m = preference_message(pb, pairs[0], images)
    assert m.preferred in (1, 2) and m.image.data.startswith(b"\x89PNG")
    assert list(m.facts.captions) == pairs[0]["captions"]
    assert m.hallucination.response_1_hallucinated == pairs[0]["response_1_hallucinated"]
    assert m.idempotency_key and len(m.idempotency_key) <= 128
    again = pb.feedback_pb2.PreferenceFeedback.FromString(m.SerializeToString())
    assert again == m
    prompts = rl_prompts(scenes, caps, 0)
    batches = list(prompt_batches(pb, prompts, images, batch_size=100))
    assert sum(len(b.prompts) for b in batches) == len(prompts)
    assert all(len(b.prompts) <= 100 for b in batches)
    mc = next(p for b in batches for p in b.prompts if p.facts.choices)
    assert mc.facts.HasField("correct_choice") and not mc.facts.HasField("yes_no_answer")
    yn = next(p for b in batches for p in b.prompts if p.facts.HasField("yes_no_answer"))
    assert not yn.facts.choices
