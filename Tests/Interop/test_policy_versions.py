"""Policy versions through the real daemon and grpcio: versions from the configuration and from
Admin.RegisterPolicyVersion (PEFT adapter directories), listing, pinned and promoted Generate,
promote / rollback / retire with their errors, the version recorded with each stored generation,
the same versions and the same promoted one after a restart, retirement refused while a request
uses the version, and promote / rollback under load with no failed request.

A version's rows carry its LoRA delta (the base product once for all rows, each version's delta
on its own rows): a pinned version answers differently from base, and requests of different
versions decoding in one batch give exactly what each gives alone. (Logits against transformers
+ PEFT: Tests/ModelsTests/LoRA*.swift.)

The adapters are the PEFT fixtures made by transformers + PEFT for the tiny policy, which has
the embedded default model's config: Tests/Fixtures/lora/adapter-a (r 4) and adapter-b (rsLoRA).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import grpc

from interop import RPC_TIMEOUT_S, Daemon, rpc_error
from rlhfd_client._proto.rlhfd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    policy_pb2,
    policy_pb2_grpc,
)
from test_stalled_streams import StalledClient

ROOT = Path(__file__).resolve().parent.parent.parent
PEFT = ROOT / "Tests" / "Fixtures" / "lora"
ADAPTER = str(PEFT / "adapter-a")
RSLORA = str(PEFT / "adapter-b")
MODEL_DIR = str(ROOT / "models" / "default" / "policy")


def start(rlhfd_bin, workdir: Path, config: str = "") -> Daemon:
    path = workdir / "rlhfd.yaml"
    path.write_text(config or "{}\n")
    daemon = Daemon(rlhfd_bin, workdir, model="default", args=["--config", str(path)])
    try:
        daemon.start()
    except BaseException:
        daemon.kill()
        raise
    return daemon


def stop(daemon: Daemon) -> None:
    try:
        code = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0, daemon.stderr_text()


def generate(policy, version: str = "", tokens: int = 4) -> policy_pb2.GenerateResponse:
    request = policy_pb2.GenerateRequest(
        prompt="Hello", policy_version=version,
        sampling=common_pb2.SamplingParams(max_new_tokens=tokens))
    return policy.Generate(request, timeout=RPC_TIMEOUT_S)


def listing(admin) -> tuple[list[str], str]:
    response = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(), timeout=RPC_TIMEOUT_S)
    marked = [v.version for v in response.versions if v.promoted]
    assert marked == [response.promoted_version]
    return [v.version for v in response.versions], response.promoted_version


def register(admin, version: str, path: str, parent: str = ""):
    request = admin_pb2.RegisterPolicyVersionRequest(
        version=version, adapter_path=path, parent_version=parent)
    return admin.RegisterPolicyVersion(request, timeout=RPC_TIMEOUT_S).version


def code_of(call) -> tuple[grpc.StatusCode, str]:
    error = rpc_error(call)
    return error.code(), error.details()


CONFIG = f"""
policy_versions:
  - id: cfg-a
    adapter: {ADAPTER}
promoted_policy_version: cfg-a
"""


def test_versions_route_persist_and_survive_a_restart(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path, CONFIG)
    try:
        channel = daemon.channel()
        admin = admin_pb2_grpc.AdminStub(channel)
        policy = policy_pb2_grpc.PolicyStub(channel)
        info = admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=RPC_TIMEOUT_S)
        assert info.policy_version == "cfg-a"
        assert set(info.policy_versions) == {"base", "cfg-a"}
        assert listing(admin) == (["cfg-a", "base"], "cfg-a")
        held = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(), timeout=RPC_TIMEOUT_S)
        assert {v.version: (v.source, v.adapter_bytes > 0) for v in held.versions} == {
            "cfg-a": ("config", True), "base": ("base", False)}

        v1 = register(admin, "v1", RSLORA, parent="cfg-a")
        assert (v1.version, v1.parent_version, v1.source, v1.adapter_path, v1.promoted) == (
            "v1", "cfg-a", "admin", RSLORA, False)
        assert v1.created_unix_ms > 0 and v1.adapter_bytes > 0
        assert code_of(lambda: register(admin, "v1", RSLORA))[0] == grpc.StatusCode.ALREADY_EXISTS
        assert code_of(lambda: register(admin, "base", RSLORA))[0] == grpc.StatusCode.ALREADY_EXISTS
        missing = code_of(lambda: register(admin, "v9", str(tmp_path / "nowhere")))
        assert missing[0] == grpc.StatusCode.NOT_FOUND and "nowhere" in missing[1]
        bad = code_of(lambda: register(admin, "v9", MODEL_DIR))
        assert bad[0] == grpc.StatusCode.INVALID_ARGUMENT and "adapter" in bad[1]
        relative = code_of(lambda: register(admin, "v9", "adapters/v9"))
        assert relative[0] == grpc.StatusCode.INVALID_ARGUMENT and "absolute" in relative[1]
        assert code_of(lambda: register(admin, "v 9", RSLORA))[0] == grpc.StatusCode.INVALID_ARGUMENT
        parent = code_of(lambda: register(admin, "v9", RSLORA, parent="nope"))
        assert parent[0] == grpc.StatusCode.NOT_FOUND and "nope" in parent[1]

        # Pinned, promoted, unknown; the stream's final chunk names the version too.
        assert generate(policy, "v1").policy_version == "v1"
        assert generate(policy).policy_version == "cfg-a"
        assert generate(policy, "base").policy_version == "base"
        unknown = code_of(lambda: generate(policy, "v-nope"))
        assert unknown[0] == grpc.StatusCode.NOT_FOUND and "v-nope" in unknown[1]
        chunks = list(policy.GenerateStream(policy_pb2.GenerateRequest(
            prompt="Hi", policy_version="v1", sampling=common_pb2.SamplingParams(max_new_tokens=3)),
            timeout=RPC_TIMEOUT_S))
        assert chunks[-1].final.policy_version == "v1"

        # Promote, roll back down the stack [base, cfg-a, v1], promote again.
        promoted = admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="v1"))
        assert (promoted.previous_version, promoted.promoted_version) == ("cfg-a", "v1")
        assert generate(policy).policy_version == "v1"
        back = admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest())
        assert (back.previous_version, back.promoted_version) == ("v1", "cfg-a")
        assert generate(policy).policy_version == "cfg-a"
        back = admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest())
        assert back.promoted_version == "base"
        nothing = code_of(lambda: admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest()))
        assert nothing[0] == grpc.StatusCode.FAILED_PRECONDITION
        never = code_of(lambda: admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest(version="v1")))
        assert never[0] == grpc.StatusCode.FAILED_PRECONDITION and "PromotePolicy" in never[1]
        admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="cfg-a"))
        admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="v1"))
        assert code_of(lambda: admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="zz")))[
            0] == grpc.StatusCode.NOT_FOUND

        # Retire: not the promoted one, not base, not unknown; a retired id is gone for good.
        retire = admin_pb2.RetirePolicyVersionRequest
        busy = code_of(lambda: admin.RetirePolicyVersion(retire(version="v1")))
        assert busy[0] == grpc.StatusCode.FAILED_PRECONDITION and "promoted" in busy[1]
        assert code_of(lambda: admin.RetirePolicyVersion(retire(version="base")))[
            0] == grpc.StatusCode.FAILED_PRECONDITION
        assert code_of(lambda: admin.RetirePolicyVersion(retire(version="zz")))[
            0] == grpc.StatusCode.NOT_FOUND
        register(admin, "v2", ADAPTER)
        assert admin.RetirePolicyVersion(retire(version="v2")).version == "v2"
        gone = code_of(lambda: generate(policy, "v2"))
        assert gone[0] == grpc.StatusCode.NOT_FOUND and "retired" in gone[1]
        assert code_of(lambda: register(admin, "v2", ADAPTER))[0] == grpc.StatusCode.ALREADY_EXISTS
        assert listing(admin) == (["v1", "cfg-a", "base"], "v1")
    finally:
        stop(daemon)

    # Every generation is stored with the version it ran on.
    db = sqlite3.connect(f"file:{tmp_path / 'feedback.sqlite3'}?mode=ro", uri=True)
    stored = {row[0] for row in db.execute("SELECT policy_version FROM generations")}
    db.close()
    assert {"v1", "cfg-a", "base"} <= stored

    daemon = start(rlhfd_bin, tmp_path, CONFIG)  # same store and configuration
    try:
        channel = daemon.channel()
        admin = admin_pb2_grpc.AdminStub(channel)
        policy = policy_pb2_grpc.PolicyStub(channel)
        assert listing(admin) == (["v1", "cfg-a", "base"], "v1")
        assert generate(policy).policy_version == "v1"
        back = admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest())
        assert back.promoted_version == "cfg-a"  # the promotion history survived too
        assert code_of(lambda: generate(policy, "v2"))[0] == grpc.StatusCode.NOT_FOUND
    finally:
        stop(daemon)


def test_a_version_in_use_cannot_be_retired(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path)
    stalled = None
    try:
        admin = admin_pb2_grpc.AdminStub(daemon.channel())
        register(admin, "busy", ADAPTER)
        # A client that reads nothing keeps its sequence (and its lease on "busy") alive.
        stalled = StalledClient(daemon.port)
        stalled.open(policy_pb2.GenerateRequest(
            prompt="Tell a long story.", policy_version="busy",
            sampling=common_pb2.SamplingParams(max_new_tokens=150)))
        time.sleep(2)  # the daemon takes the request (and its lease) meanwhile
        code, message = code_of(
            lambda: admin.RetirePolicyVersion(admin_pb2.RetirePolicyVersionRequest(version="busy")))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "in use" in message, message
        stalled.drain(30)
        assert all(status.startswith("0") for status in stalled.status.values()), stalled.status
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.RetirePolicyVersion(admin_pb2.RetirePolicyVersionRequest(version="busy"))
                break
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert time.monotonic() < deadline, "the finished request still holds the version"
                time.sleep(0.05)
        assert listing(admin)[0] == ["base"]
    finally:
        if stalled is not None:
            stalled.close()
        stop(daemon)


def test_promote_and_rollback_under_load_fail_no_request(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path, CONFIG)
    try:
        admin = admin_pb2_grpc.AdminStub(daemon.channel())
        register(admin, "v1", RSLORA)
        seen: dict[str, int] = {}
        failures: list[str] = []
        stop_at = time.monotonic() + 8
        lock = threading.Lock()

        def client(index: int) -> None:
            policy = policy_pb2_grpc.PolicyStub(daemon.channel())
            pinned = "base" if index == 0 else ""
            while time.monotonic() < stop_at:
                try:
                    request = policy_pb2.GenerateRequest(
                        prompt=f"Count to {index}", policy_version=pinned,
                        sampling=common_pb2.SamplingParams(max_new_tokens=24, temperature=0.7))
                    final = list(policy.GenerateStream(request, timeout=RPC_TIMEOUT_S))[-1].final
                    with lock:
                        seen[final.policy_version] = seen.get(final.policy_version, 0) + 1
                        if pinned and final.policy_version != pinned:
                            failures.append(f"pinned {pinned} ran on {final.policy_version}")
                except grpc.RpcError as error:
                    with lock:
                        failures.append(f"{error.code()}: {error.details()}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        changes = 0
        while time.monotonic() < stop_at - 1:
            admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="v1"), timeout=RPC_TIMEOUT_S)
            time.sleep(0.15)
            back = admin.RollbackPolicy(admin_pb2.RollbackPolicyRequest(), timeout=RPC_TIMEOUT_S)
            assert back.promoted_version == "cfg-a"
            time.sleep(0.15)
            changes += 2
        for thread in threads:
            thread.join(RPC_TIMEOUT_S + 10)
        assert not failures, failures[:5]
        assert changes >= 10
        assert set(seen) <= {"base", "cfg-a", "v1"}
        assert seen.get("v1", 0) > 0 and seen.get("cfg-a", 0) > 0, seen
        assert listing(admin)[1] == "cfg-a"
    finally:
        stop(daemon)


def test_a_configured_id_keeps_its_adapter(rlhfd_bin, tmp_path):
    """A version never changes: a restart whose configuration gives a registered id another
    adapter directory stops with a message saying so (a new adapter needs a new id)."""
    stop(start(rlhfd_bin, tmp_path, CONFIG))
    config = tmp_path / "rlhfd.yaml"
    config.write_text(CONFIG.replace(ADAPTER, RSLORA))
    daemon = Daemon(rlhfd_bin, tmp_path, model="default", args=["--config", str(config)])
    try:
        daemon.start(wait=False)
        code = daemon.wait_exit(60)
        stderr = daemon.stderr_text()
        assert code != 0, stderr
        assert "cfg-a" in stderr and "new id" in stderr, stderr
    finally:
        daemon.kill()


def greedy(policy, version: str, prompt: str, tokens: int = 12) -> tuple[list[int], list[float]]:
    request = policy_pb2.GenerateRequest(
        prompt=prompt, policy_version=version,
        sampling=common_pb2.SamplingParams(max_new_tokens=tokens, temperature=0, logprobs=True))
    reply = policy.Generate(request, timeout=RPC_TIMEOUT_S)
    assert reply.policy_version == (version or "base"), reply
    return list(reply.token_ids), [entry.logprob for entry in reply.logprobs]


def test_versions_share_a_batch_and_each_answers_as_alone(rlhfd_bin, tmp_path):
    """Two adapters and base: each version's greedy answer differs from base (its delta is
    applied), and 9 requests over the three versions decoding at once (one batch) give exactly
    the tokens, and logprobs to 1e-4, that each gives alone."""
    config = f"""
policy_versions:
  - id: a
    adapter: {ADAPTER}
  - id: b
    adapter: {RSLORA}
"""
    daemon = start(rlhfd_bin, tmp_path, config)
    try:
        policy = policy_pb2_grpc.PolicyStub(daemon.channel())
        prompts = ["Hello", "What is in the image?", "Describe a red square."]
        alone = {(v, p): greedy(policy, v, p) for v in ("", "a", "b") for p in prompts}
        for p in prompts:
            assert alone[("a", p)] != alone[("", p)], "adapter a changed nothing"
            assert alone[("b", p)] != alone[("", p)], "adapter b changed nothing"
        together: dict = {}
        errors: list = []

        def run(version: str, prompt: str):
            try:
                together[(version, prompt)] = greedy(policy, version, prompt)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=key) for key in alone]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        for key, (tokens, logprobs) in alone.items():
            got_tokens, got_logprobs = together[key]
            assert got_tokens == tokens, key
            assert max(abs(x - y) for x, y in zip(got_logprobs, logprobs)) <= 1e-4, key
    finally:
        stop(daemon)


def save(admin, version: str = "", path: str = ""):
    request = admin_pb2.SaveCheckpointRequest(policy_version=version, path=path)
    return admin.SaveCheckpoint(request, timeout=RPC_TIMEOUT_S).checkpoint


def test_save_checkpoint_writes_a_peft_adapter_that_serves_the_same(rlhfd_bin, tmp_path):
    """SaveCheckpoint writes a version as a new PEFT directory (adapter_config.json +
    adapter_model.safetensors); registered again, it answers exactly as the version it came
    from. Errors: an existing path, the base model, an unknown version, a relative path."""
    daemon = start(rlhfd_bin, tmp_path, f"policy_versions:\n  - id: a\n    adapter: {ADAPTER}\n")
    try:
        channel = daemon.channel()
        admin, policy = admin_pb2_grpc.AdminStub(channel), policy_pb2_grpc.PolicyStub(channel)
        target = tmp_path / "saved" / "a-copy"
        saved = save(admin, "a", str(target))
        assert saved.policy_version == "a" and saved.path == str(target), saved
        assert sorted(p.name for p in target.iterdir()) == [
            "adapter_config.json", "adapter_model.safetensors"]
        assert not [p for p in target.parent.iterdir() if p.name != "a-copy"], "temp files left"
        register(admin, "a-copy", str(target))
        for prompt in ["Hello", "Describe a red square."]:
            assert greedy(policy, "a-copy", prompt) == greedy(policy, "a", prompt)
        # Default location: <state_directory>/checkpoints/<version>-<ms>.
        promote = admin.PromotePolicy(admin_pb2.PromotePolicyRequest(version="a"),
                                      timeout=RPC_TIMEOUT_S)
        assert promote.promoted_version == "a"
        default = save(admin)
        assert default.policy_version == "a" and "/checkpoints/a-" in default.path, default
        assert (Path(default.path) / "adapter_model.safetensors").is_file()
        assert code_of(lambda: save(admin, "a", str(target)))[0] == grpc.StatusCode.ALREADY_EXISTS
        assert code_of(lambda: save(admin, "base"))[0] == grpc.StatusCode.FAILED_PRECONDITION
        assert code_of(lambda: save(admin, "nope"))[0] == grpc.StatusCode.NOT_FOUND
        relative = code_of(lambda: save(admin, "a", "saved/x"))
        assert relative[0] == grpc.StatusCode.INVALID_ARGUMENT and "absolute" in relative[1]
    finally:
        stop(daemon)


def test_killed_while_saving_leaves_no_torn_adapter(rlhfd_bin, tmp_path):
    """SIGKILL while SaveCheckpoint calls are running, in rounds: after each, every checkpoint
    directory is whole (it registers and serves) or absent; never a partial adapter."""
    rounds, total = 3, 0
    for round_ in range(rounds):
        workdir = tmp_path / f"round-{round_}"
        workdir.mkdir()
        daemon = start(rlhfd_bin, workdir, f"policy_versions:\n  - id: a\n    adapter: {ADAPTER}\n")
        admin = admin_pb2_grpc.AdminStub(daemon.channel())
        out = workdir / "ckpt"
        stop_at = time.monotonic() + 0.3 + 0.4 * round_

        def saver():
            index = 0
            while time.monotonic() < stop_at + 2:
                try:
                    save(admin, "a", str(out / f"c{index}"))
                except grpc.RpcError:
                    return
                index += 1

        thread = threading.Thread(target=saver)
        thread.start()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        daemon.kill()
        thread.join(timeout=10)
        written = sorted(p for p in out.iterdir() if not p.name.startswith(".")) \
            if out.exists() else []
        daemon = start(rlhfd_bin, workdir, f"policy_versions:\n  - id: a\n    adapter: {ADAPTER}\n")
        try:
            admin = admin_pb2_grpc.AdminStub(daemon.channel())
            for index, path in enumerate(written):
                register(admin, f"r{index}", str(path))  # loads: the directory is whole
        finally:
            stop(daemon)
        total += len(written)
    assert total > 0, "no checkpoint was written before the kills: the test proved nothing"
