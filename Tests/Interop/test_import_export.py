"""`rlhfd import` / `rlhfd export` on the real binary: the world tool's feedback files (LLaVA-
Human-Preference-10K and RL-prompt layouts) go into a store file through the RPCs' validation,
re-importing makes duplicates not copies, rejected records are reported with reasons and a
non-zero exit, export writes both layouts and the images by SHA-256, import(export(x)) gives x
again, and a running daemon's store is refused with a clear error."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from interop import Daemon
from world_fixture import world_feedback

FIXTURE_PNG = Path(__file__).resolve().parent.parent / "Fixtures" / "images" / "rgb_64x48.png"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return world_feedback(tmp_path_factory.mktemp("world") / "data")


def rlhfd(binary, *args, timeout=120):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def import_(binary, store, images, *files):
    return rlhfd(binary, "import", "--feedback-store", store, "--images", images, *files)


def rows(store: Path, sql: str):
    database = sqlite3.connect(str(store))
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()


def without_ids(records):
    return [{k: v for k, v in r.items() if k != "id"} for r in records]


def test_import_stores_the_world_files_once(rlhfd_bin, world, tmp_path):
    store = tmp_path / "feedback.sqlite3"
    feedback = world / "feedback"
    preferences = json.loads((feedback / "preferences_val.json").read_text())
    prompts = json.loads((feedback / "rl_prompts_val.json").read_text())
    run = import_(rlhfd_bin, store, world / "images", feedback / "preferences_val.json",
                  feedback / "rl_prompts_val.json")
    assert run.returncode == 0, run.stderr
    assert f"{len(preferences)} accepted, 0 duplicate, 0 rejected" in run.stdout, run.stdout
    assert f"{len(prompts)} accepted, 0 duplicate, 0 rejected" in run.stdout, run.stdout
    # Not a terminal: plain progress lines, ending at 100 %.
    assert f"preferences_val.json (preferences): {len(preferences)}/{len(preferences)} (100%)" \
        in run.stderr, run.stderr
    assert "\r" not in run.stderr
    # What the RPCs would have stored.
    first = preferences[0]
    (prompt, r1, r2, preferred, h1, h2, flag, facts), = rows(
        store, "SELECT prompt, response_1, response_2, preferred, response_1_hallucinated, "
        "response_2_hallucinated, dataset_flag, facts FROM preferences ORDER BY rowid LIMIT 1")
    assert prompt == first["conversations"][0]["value"].removeprefix("<image>\n")
    assert (r1, r2, preferred) == (first["output_1"]["value"], first["output_2"]["value"],
                                   first["preference"])
    assert (h1, h2, flag) == (first["hallucination_1"], first["hallucination_2"], 1)
    assert json.loads(facts)["captions"] == first["captions"]
    image = (world / "images" / first["image"]).read_bytes()
    assert rows(store, "SELECT count(*) FROM images WHERE sha256 = '"
                + hashlib.sha256(image).hexdigest() + "'") == [(1,)]
    assert rows(store, "SELECT client_id FROM prompts ORDER BY rowid LIMIT 1") == \
        [(prompts[0]["id"],)]

    again = import_(rlhfd_bin, store, world / "images", feedback / "preferences_val.json",
                    feedback / "rl_prompts_val.json")
    assert again.returncode == 0, again.stderr
    assert f"0 accepted, {len(preferences)} duplicate, 0 rejected" in again.stdout, again.stdout
    assert f"0 accepted, {len(prompts)} duplicate, 0 rejected" in again.stdout, again.stdout
    assert rows(store, "SELECT count(*) FROM preferences") == [(len(preferences),)]
    assert rows(store, "SELECT count(*) FROM prompts") == [(len(prompts),)]
    assert rows(store, "PRAGMA integrity_check") == [("ok",)]


def test_export_round_trips(rlhfd_bin, world, tmp_path):
    feedback = world / "feedback"
    first_store, second_store = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    run = import_(rlhfd_bin, first_store, world / "images", feedback / "preferences_val.json",
                  feedback / "rl_prompts_val.json")
    assert run.returncode == 0, run.stdout + run.stderr
    first = rlhfd(rlhfd_bin, "export", "--feedback-store", first_store, "--out", tmp_path / "x")
    assert first.returncode == 0, first.stderr
    out = tmp_path / "x"
    run = import_(rlhfd_bin, second_store, out / "images", out / "preferences.json",
                  out / "rl_prompts.json")
    assert run.returncode == 0, run.stdout + run.stderr
    second = rlhfd(rlhfd_bin, "export", "--feedback-store", second_store, "--out", tmp_path / "y")
    assert second.returncode == 0, second.stderr
    x, y = tmp_path / "x", tmp_path / "y"
    # The RL prompts keep their ids (client ids); preferences get the store's new ids.
    assert json.loads((x / "rl_prompts.json").read_text()) == \
        json.loads((y / "rl_prompts.json").read_text())
    px, py = (json.loads((d / "preferences.json").read_text()) for d in (x, y))
    assert without_ids(px) == without_ids(py)
    assert sorted(p.name for p in (x / "images").iterdir()) == \
        sorted(p.name for p in (y / "images").iterdir())
    for image in (x / "images").iterdir():
        assert image.name == hashlib.sha256(image.read_bytes()).hexdigest() + ".png"

    # And the export says what the world's files said.
    original = json.loads((feedback / "preferences_val.json").read_text())
    assert len(px) == len(original)
    for mine, theirs in zip(px, original):
        for field in ("conversations", "output_1", "output_2", "preference", "hallucination",
                      "hallucination_1", "hallucination_2", "captions"):
            assert mine[field] == theirs[field], field
        assert (x / "images" / mine["image"]).read_bytes() == \
            (world / "images" / theirs["image"]).read_bytes()
    prompts = json.loads((x / "rl_prompts.json").read_text())
    original = json.loads((feedback / "rl_prompts_val.json").read_text())
    assert [p["id"] for p in prompts] == [p["id"] for p in original]
    for mine, theirs in zip(prompts, original):
        assert mine["conversations"][0] == theirs["conversations"][0]
        for field in ("captions", "caption_type", "length_bonus", "choices", "correct_choice",
                      "yes_no_answer"):
            assert mine.get(field) == theirs.get(field), (field, mine, theirs)


def test_rejected_records_are_reported_and_fail_the_import(rlhfd_bin, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(FIXTURE_PNG.read_bytes())
    (images / "not.png").write_bytes(b"this is not an image")
    good = {"id": "ok", "image": "a.png",
            "conversations": [{"from": "human", "value": "<image>\nWhat is it?"},
                              {"from": "gpt", "value": "A square."}],
            "output_1": {"value": "A square."}, "output_2": {"value": "A circle."},
            "preference": 1, "hallucination": False}
    bad = [
        dict(good, id="three", preference=3),
        dict(good, id="no-image", image="missing.png"),
        dict(good, id="not-image", image="not.png"),
        dict(good, id="empty", output_2={"value": "  "}),
        dict(good, id="typed", preference="first"),
        dict(good, id="turns", conversations=good["conversations"] * 2),
    ]
    file = tmp_path / "prefs.json"
    file.write_text(json.dumps([good, *bad]))
    store = tmp_path / "feedback.sqlite3"
    run = import_(rlhfd_bin, store, images, file)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 accepted, 0 duplicate, 6 rejected" in run.stdout, run.stdout
    # The same messages as the RPCs' INVALID_ARGUMENT for what the API checks.
    assert "(id three): INVALID_ARGUMENT: preferred must be 1 or 2, got 3" in run.stdout
    assert "(id no-image): image 'missing.png' cannot be read" in run.stdout
    assert "(id not-image): INVALID_ARGUMENT: image.data: not a PNG or JPEG" in run.stdout
    assert "(id empty): INVALID_ARGUMENT: response_2.text is empty" in run.stdout
    assert "(id typed): preference must be 1 or 2" in run.stdout
    assert "(id turns): conversations has 4 turns" in run.stdout
    assert rows(store, "SELECT count(*) FROM preferences") == [(1,)]


def test_import_refuses_a_store_the_daemon_holds(rlhfd_bin, tmp_path):
    daemon = Daemon(rlhfd_bin, tmp_path).start()
    try:
        run = import_(rlhfd_bin, tmp_path / "feedback.sqlite3", tmp_path, tmp_path / "x.json")
        assert run.returncode == 2
        assert "in use by another process" in run.stderr and "stop the daemon" in run.stderr
    finally:
        daemon.kill()


def test_progress_is_a_bar_on_a_terminal(rlhfd_bin, world, tmp_path):
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        run = subprocess.run(
            [str(rlhfd_bin), "import", "--feedback-store", str(tmp_path / "f.sqlite3"),
             "--images", str(world / "images"), "--batch-size", "4",
             str(world / "feedback" / "rl_prompts_val.json")],
            stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL, timeout=120)
        os.close(terminal)
        terminal = None
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        shown = b"".join(chunks).decode()
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    assert run.returncode == 0, run.stdout
    total = len(json.loads((world / "feedback" / "rl_prompts_val.json").read_text()))
    assert "\r\x1b[2Krl_prompts_val.json (prompts) [" in shown, shown
    assert f"] 100% {total}/{total} accepted {total} duplicate 0 rejected 0" in shown, shown


def test_length_bonus_keeps_its_sign_and_defaults_to_one(rlhfd_bin, tmp_path):
    """LLaVA-RLHF's general prompts carry length_bonus -0.5 (a bonus for length); a record
    without one gets the paper's default multiplier, 1."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(FIXTURE_PNG.read_bytes())
    records = [
        {"id": "general", "image": "a.png", "length_bonus": -0.5, "caption_type": 1,
         "captions": ["A picture."], "conversations": [{"from": "human", "value": "<image>\nDescribe it."}]},
        {"id": "plain", "image": "a.png", "captions": ["A picture."], "caption_type": 1,
         "conversations": [{"from": "human", "value": "<image>\nWhat is it?"}]},
    ]
    (tmp_path / "rl_prompts.json").write_text(json.dumps(records))
    store = tmp_path / "feedback.sqlite3"
    run = import_(rlhfd_bin, store, images, tmp_path / "rl_prompts.json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(rows(store, "SELECT client_id, length_bonus FROM prompts")) == \
        [("general", -0.5), ("plain", 1.0)]
    out = rlhfd(rlhfd_bin, "export", "--feedback-store", store, "--out", tmp_path / "x")
    assert out.returncode == 0, out.stderr
    exported = json.loads((tmp_path / "x" / "rl_prompts.json").read_text())
    assert {r["id"]: r["length_bonus"] for r in exported} == {"general": -0.5, "plain": 1.0}
