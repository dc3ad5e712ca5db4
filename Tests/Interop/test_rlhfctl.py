"""`rlhfctl` (clients/python, `python -m rlhfd_client.cli`) run as a subprocess against the real
daemon: health, info, generate streamed to stdout (the same text as a unary Generate), score
(the same rewards as a direct Score), policy versions register / list / promote / rollback /
save / retire with the PEFT fixture adapter-a and their errors, feedback import of a small
preference file and of a tools/world/export_feedback.py file (a replay is all duplicates; the
pending count in `training status`), the `training watch` fallback while the daemon has no
trainer, a unix socket, mutual TLS, and the messages and exit codes when the daemon is down.
No Python traceback on any expected failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from interop import RPC_TIMEOUT_S, Daemon, free_port, short_tmp_path
from rlhfd_client._proto.rlhfd.v1 import (common_pb2, policy_pb2, policy_pb2_grpc, reward_pb2,
                                          reward_pb2_grpc)

ROOT = Path(__file__).resolve().parent.parent.parent
IMAGES = ROOT / "Tests" / "Fixtures" / "images"
PNG = IMAGES / "rgb_64x48.png"
ADAPTER = ROOT / "Tests" / "Fixtures" / "lora" / "adapter-a"
CLI_TIMEOUT_S = 120


def rlhfctl(address: Optional[str], *argv: str, check: Optional[int] = 0,
            timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Runs `python -m rlhfd_client.cli [--address ADDRESS] ARGV...` with this tree's client.
    `check`: the expected exit status (None = any)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "clients" / "python" / "src")] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("RLHFD_ADDRESS", None)
    env.pop("RLHFD_TOKEN_FILE", None)
    command = [sys.executable, "-m", "rlhfd_client.cli"]
    if address is not None:
        command += ["--address", address]
    result = subprocess.run(command + list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, encoding="utf-8", errors="replace", env=env,
                            timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    if check is not None:
        assert result.returncode == check, (argv, result.returncode, result.stdout,
                                            result.stderr)
    return result


@pytest.fixture(scope="module")
def served(rlhfd_bin, tmp_path_factory):
    """A daemon serving the embedded default models, with a feedback store."""
    instance = Daemon(rlhfd_bin, tmp_path_factory.mktemp("rlhfctl-daemon"), model="default",
                      args=["--image-min-side", "2"])
    try:
        instance.start()
    except BaseException:
        instance.kill()
        raise
    yield instance
    try:
        alive = instance.running()
        code = instance.stop() if alive else instance.process.returncode
    finally:
        instance.kill()
    assert alive, f"the daemon died (exit {code})\nstderr:\n{instance.stderr_text()}"
    assert code == 0, instance.stderr_text()


def test_health_and_info(served):
    assert rlhfctl(served.target, "health").stdout == "SERVING\n"
    out = rlhfctl(served.target, "health", "--all").stdout
    for service in ("(server)", "rlhfd.v1.Policy", "rlhfd.v1.Reward", "rlhfd.v1.Feedback",
                    "rlhfd.v1.Admin"):
        assert f"{service} " in out and out.count("SERVING") == 5, out
    result = rlhfctl(served.target, "health", "rlhfd.v1.Nope", check=1)
    assert result.stdout == "rlhfd.v1.Nope  NOT_FOUND\n"
    info = json.loads(rlhfctl(served.target, "--json", "info").stdout)
    assert info["architecture"] == "LlavaForConditionalGeneration"
    assert info["policy_version"] == "base" and "base" in info["policy_versions"]
    assert info["context_length"] > 0 and info["daemon_version"]
    text = rlhfctl(served.target, "info").stdout
    assert "promoted policy:" in text and "compute kernels:" in text


def unary_generate(daemon: Daemon, prompt: str, tokens: int, version: str = "",
                   image: Optional[bytes] = None) -> policy_pb2.GenerateResponse:
    policy = policy_pb2_grpc.PolicyStub(daemon.channel())
    request = policy_pb2.GenerateRequest(
        prompt=prompt, policy_version=version,
        images=[common_pb2.Image(data=image)] if image else [],
        sampling=common_pb2.SamplingParams(max_new_tokens=tokens))
    return policy.Generate(request, timeout=60)


def test_generate_streams_the_same_text_as_generate(served):
    result = rlhfctl(served.target, "generate", "Describe the image.", "--image", str(PNG),
                     "--max-new-tokens", "12")
    expected = unary_generate(served, "Describe the image.", 12, image=PNG.read_bytes())
    assert result.stdout == expected.text + ("" if expected.text.endswith("\n") else "\n")
    assert "[finish " in result.stderr and "policy base" in result.stderr, result.stderr
    assert "12 tokens" in result.stderr or "finish EOS" in result.stderr, result.stderr
    final = json.loads(rlhfctl(served.target, "--json", "generate", "Hello",
                               "--max-new-tokens", "4", "--seed", "7", "--temperature",
                               "0.8").stdout)
    assert final["policy_version"] == "base" and final["generation_id"]
    assert int(final["usage"]["completion_tokens"]) <= 4


def test_generate_errors(served):
    result = rlhfctl(served.target, "generate", "Hi", "--version", "no-such-version", check=1)
    assert result.stderr.startswith("rlhfctl: NOT_FOUND: "), result.stderr
    result = rlhfctl(served.target, "generate", "Hi", "--image", str(IMAGES / "absent.png"),
                     check=2)
    assert "cannot read image" in result.stderr


def test_score_matches_a_direct_call(served):
    responses = ["C. A yellow circle.", "No, there is no bus."]
    result = rlhfctl(served.target, "--json", "score", "What is in the image?", "--image",
                     str(PNG), *responses, "--caption", "A yellow circle on grey.",
                     "--yes-no", "no", timeout=CLI_TIMEOUT_S)
    rewards = json.loads(result.stdout)["rewards"]
    reward = reward_pb2_grpc.RewardStub(served.channel())
    direct = reward.Score(reward_pb2.ScoreRequest(
        prompt="What is in the image?", image=common_pb2.Image(data=PNG.read_bytes()),
        responses=responses, facts=common_pb2.Facts(captions=["A yellow circle on grey."],
                                                    yes_no_answer=False)), timeout=60)
    assert [r["response"] for r in rewards] == responses
    assert [r["total"] for r in rewards] == pytest.approx([r.total for r in direct.rewards],
                                                          abs=1e-5)
    table = rlhfctl(served.target, "score", "What is in the image?", "--image", str(PNG),
                    *responses).stdout.splitlines()
    assert table[0].split()[:3] == ["#", "total", "model"] and len(table) == 4, table


def test_versions_register_promote_rollback_save_retire(served, tmp_path):
    address = served.target
    out = rlhfctl(address, "versions", "register", "ctl-a", str(ADAPTER)).stdout
    assert out.startswith("registered ctl-a (parent base)"), out
    listing = json.loads(rlhfctl(address, "--json", "versions", "list").stdout)
    assert listing["promoted_version"] == "base"
    mine = [v for v in listing["versions"] if v["version"] == "ctl-a"]
    assert len(mine) == 1 and mine[0]["adapter_path"] == str(ADAPTER)
    assert int(mine[0]["adapter_bytes"]) > 0 and mine[0]["source"] == "admin"
    pinned = rlhfctl(address, "generate", "Hello", "--max-new-tokens", "4", "--version", "ctl-a")
    assert "policy ctl-a" in pinned.stderr, pinned.stderr
    assert rlhfctl(address, "versions", "promote", "ctl-a").stdout == \
        "promoted ctl-a (was base)\n"
    text = rlhfctl(address, "versions", "list").stdout
    assert any(line.startswith("*") and " ctl-a " in line for line in text.splitlines()), text
    unpinned = rlhfctl(address, "generate", "Hello", "--max-new-tokens", "4")
    assert "policy ctl-a" in unpinned.stderr, unpinned.stderr
    assert unpinned.stdout == pinned.stdout  # greedy: the promoted version's text
    # Refused while promoted.
    result = rlhfctl(address, "versions", "retire", "ctl-a", check=1)
    assert result.stderr.startswith("rlhfctl: FAILED_PRECONDITION: "), result.stderr
    saved = json.loads(rlhfctl(address, "--json", "versions", "save", "--path",
                               str(tmp_path / "saved-a")).stdout)
    assert saved["policy_version"] == "ctl-a"
    assert (tmp_path / "saved-a" / "adapter_config.json").is_file()
    assert rlhfctl(address, "versions", "rollback").stdout == "rolled back to base (was ctl-a)\n"
    assert rlhfctl(address, "versions", "retire", "ctl-a").stdout == "retired ctl-a\n"
    assert "ctl-a" not in rlhfctl(address, "versions", "list").stdout
    # Errors: an unknown version, an id used before, nothing to roll back to, a missing dir.
    result = rlhfctl(address, "versions", "promote", "no-such", check=1)
    assert result.stderr.startswith("rlhfctl: NOT_FOUND: "), result.stderr
    result = rlhfctl(address, "versions", "register", "ctl-a", str(ADAPTER), check=1)
    assert result.stderr.startswith("rlhfctl: ALREADY_EXISTS: "), result.stderr
    result = rlhfctl(address, "versions", "register", "ctl-x", str(tmp_path / "absent"), check=1)
    assert result.stderr.startswith("rlhfctl: NOT_FOUND: "), result.stderr


def write_preferences(directory: Path, n: int) -> Path:
    images = directory / "images"
    images.mkdir(parents=True)
    shutil.copy(PNG, images / "scene.png")
    records = [{
        "id": f"ctl-{i}", "image": "scene.png",
        "conversations": [{"from": "human", "value": f"<image>\nWhat is in the image ({i})?"},
                          {"from": "gpt", "value": ""}],
        "output_1": {"from": "llava", "value": "A red square."},
        "output_2": {"from": "llava", "value": f"A yellow circle, number {i}."},
        "preference": 2, "hallucination": 1, "hallucination_1": True,
        "captions": ["A yellow circle on a grey background."],
    } for i in range(n)]
    path = directory / "preferences.json"
    path.write_text(json.dumps(records))
    return path


def test_feedback_import_then_training_status_and_watch(served, tmp_path):
    file = write_preferences(tmp_path, 5)
    images = str(tmp_path / "images")
    before = int(json.loads(rlhfctl(served.target, "--json", "training", "status").stdout)
                 ["pending_preferences"])
    result = rlhfctl(served.target, "feedback", "import", str(file), "--images", images)
    assert result.stdout.splitlines()[0] == \
        f"{file}: 5 accepted, 0 duplicate, 0 rejected, 0 retries", result.stdout
    assert "preferences.json: 5/5 (100%)" in result.stderr  # plain lines: not a terminal
    again = json.loads(rlhfctl(served.target, "--json", "feedback", "import", str(file),
                               "--images", images, "--no-progress").stdout)
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 5, 0)
    status = json.loads(rlhfctl(served.target, "--json", "training", "status").stdout)
    assert status["state"] == "TRAINING_STATE_DISABLED"
    assert int(status["pending_preferences"]) == before + 5
    text = rlhfctl(served.target, "training", "status").stdout
    assert "state:" in text and f"{before + 5} preferences" in text, text
    watch = rlhfctl(served.target, "training", "watch", "--count", "1", "--interval", "0.2")
    assert "WatchTraining: UNIMPLEMENTED" in watch.stderr, watch.stderr
    assert "status: DISABLED" in watch.stdout, watch.stdout
    assert f"pending {before + 5} preferences" in watch.stdout, watch.stdout
    watch = rlhfctl(served.target, "--json", "training", "watch", "--for", "1",
                    "--interval", "0.2")
    events = [json.loads(line) for line in watch.stdout.splitlines()]
    assert len(events) == 1 and events[0]["status"]["state"] == "TRAINING_STATE_DISABLED"
    # A bad record is rejected with its reason; the others are acknowledged (exit 1).
    records = json.loads(file.read_text())
    records.append(dict(records[0], id="ctl-bad", preference=3))
    bad = tmp_path / "with-bad.json"
    bad.write_text(json.dumps(records))
    result = rlhfctl(served.target, "feedback", "import", str(bad), "--images", images, check=1)
    assert "6 accepted, 0 duplicate, 1 rejected" not in result.stdout
    assert ", 1 rejected, " in result.stdout and "INVALID_ARGUMENT" in result.stdout, \
        result.stdout


@pytest.mark.time_limit(120)
def test_feedback_import_of_a_world_tool_file(served, tmp_path):
    """A file in LLaVA-Human-Preference-10K's layout as tools/world/export_feedback.py writes
    it (with facts): every record acknowledged, a replay all duplicates."""
    from world_fixture import world_feedback

    world = world_feedback(tmp_path / "world", val_scenes=3)
    file = world / "feedback" / "preferences_val.json"
    total = len(json.loads(file.read_text()))
    assert total > 0
    args = ["feedback", "import", str(file), "--images", str(world / "images"), "--no-progress"]
    first = json.loads(rlhfctl(served.target, "--json", *args).stdout)
    assert (first["accepted"], first["duplicate"], first["rejected"]) == (total, 0, 0), first
    again = json.loads(rlhfctl(served.target, "--json", *args).stdout)
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, total, 0), again


def test_daemon_down():
    port = free_port()
    for argv in (["health"], ["info"], ["generate", "Hi"], ["versions", "list"],
                 ["training", "status"]):
        result = rlhfctl(f"127.0.0.1:{port}", *argv, check=2, timeout=30)
        assert result.stderr == (f"rlhfctl: cannot reach rlhfd at 127.0.0.1:{port}: "
                                 "connection refused (is it running?)\n"), result.stderr
    sock = short_tmp_path("rlhfctl-absent")
    result = rlhfctl(f"unix:{sock}", "health", check=2, timeout=30)
    assert result.stderr == (f"rlhfctl: cannot reach rlhfd at unix:{sock}: no such socket "
                             "(is it running?)\n"), result.stderr


def test_unix_socket(make_daemon):
    sock = short_tmp_path("rlhfctl")
    daemon = make_daemon(listen=[f"unix:{sock}"])
    assert rlhfctl(f"unix:{sock}", "health").stdout == "SERVING\n"
    # No model: the Policy service answers UNIMPLEMENTED as `CODE: details`, exit 1.
    result = rlhfctl(f"unix:{sock}", "generate", "Hi", check=1)
    assert result.stderr.startswith("rlhfctl: "), result.stderr
    assert daemon.running()


def test_token_file_is_accepted(served, tmp_path):
    """The daemon does not check tokens yet; the token is sent and nothing breaks. It is
    never echoed."""
    token = tmp_path / "token"
    token.write_text("interop-secret\n")
    token.chmod(0o600)
    result = rlhfctl(served.target, "--token-file", str(token), "versions", "list")
    assert "interop-secret" not in result.stdout + result.stderr
    result = rlhfctl(served.target, "--token-file", str(tmp_path / "absent"), "health", check=2)
    assert "cannot read token file" in result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_mutual_tls(make_daemon, tmp_path_factory):
    from test_tls import make_ca, make_leaf

    pki = tmp_path_factory.mktemp("rlhfctl-pki")
    make_ca(pki, "ca")
    make_leaf(pki, "ca", "server",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_leaf(pki, "ca", "client", "extendedKeyUsage=clientAuth\n")
    import grpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.pem").read_bytes(),
        private_key=(pki / "client.key").read_bytes(),
        certificate_chain=(pki / "client.pem").read_bytes())
    daemon = make_daemon(args=["--tls-certificate", str(pki / "server.pem"),
                               "--tls-private-key", str(pki / "server.key"),
                               "--tls-client-ca", str(pki / "ca.pem"),
                               "--require-client-certificate"], credentials=creds)
    tls = ["--ca", str(pki / "ca.pem"), "--cert", str(pki / "client.pem"),
           "--key", str(pki / "client.key")]
    assert rlhfctl(daemon.target, *tls, "health").stdout == "SERVING\n"
    assert rlhfctl(daemon.target, *tls, "--server-name", "localhost", "health").stdout == \
        "SERVING\n"
    # Plaintext to a TLS port, and TLS without the client certificate: cannot reach (exit 2),
    # with a hint.
    for argv, hint in (([], "--tls/--ca"), (["--ca", str(pki / "ca.pem")], "--cert/--key")):
        result = rlhfctl(daemon.target, "--timeout", "5", *argv, "health", check=2, timeout=30)
        assert result.stderr.startswith(f"rlhfctl: cannot reach rlhfd at {daemon.target}: "), \
            result.stderr
        assert hint in result.stderr, result.stderr
