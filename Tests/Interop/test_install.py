"""scripts/install.sh and scripts/uninstall.sh into a temporary prefix: the installed binary
serves the installed default models with the installed configuration, the installed unit
verifies, a second install keeps an edited configuration, and uninstall removes what install
put there (keeping the configuration unless --purge)."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

from interop import Daemon, free_port
from rlhfd_client._proto.rlhfd.v1 import policy_pb2, policy_pb2_grpc

REPO = Path(__file__).resolve().parent.parent.parent


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(REPO / "scripts" / script), *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.time_limit(120)
def test_install_serve_uninstall(rlhfd_bin, tmp_path):
    prefix, etc = tmp_path / "usr", tmp_path / "etc"
    layout = ["--prefix", str(prefix), "--sysconfdir", str(etc),
              "--unitdir", str(etc / "systemd/system")]
    run("install.sh", *layout, "--binary", str(rlhfd_bin), "--no-reload")
    binary, config = prefix / "bin/rlhfd", etc / "rlhfd/rlhfd.yaml"
    unit = etc / "systemd/system/rlhfd.service"
    assert binary.is_file() and config.is_file() and unit.is_file()
    for model in ("policy", "reward"):
        installed = prefix / f"share/rlhfd/models/default/{model}"
        assert (installed / "config.json").is_file()
        # The installed default is the embedded default: the trained world model.
        assert filecmp.cmp(installed / "model.safetensors",
                           REPO / f"models/world/{model}/model.safetensors", shallow=False)
    text = unit.read_text()
    assert f"ExecStart={binary} serve --config {config}" in text, text
    assert f"policy_model: {prefix}/share/rlhfd/models/default/policy" in config.read_text()

    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)],
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0 and verify.stderr == "", verify.stderr

    # The installed binary, its configuration and models, from another working directory.
    port = free_port()
    daemon = Daemon(binary, tmp_path / "run", model="embedded", listen=[f"127.0.0.1:{port}"],
                    args=["--config", str(config)])
    try:
        daemon.start()
        stub = policy_pb2_grpc.PolicyStub(daemon.channel())
        reply = stub.Generate(
            policy_pb2.GenerateRequest(prompt="hello",
                                       sampling={"max_new_tokens": 2, "temperature": 0}),
            timeout=30)
        assert len(reply.token_ids) >= 1, reply
    finally:
        daemon.kill()

    # A second install keeps the operator's configuration.
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    run("install.sh", *layout, "--binary", str(rlhfd_bin), "--no-reload")
    assert "# edited by the operator" in config.read_text()

    run("uninstall.sh", *layout)
    assert not binary.exists() and not unit.exists()
    assert not (prefix / "share/rlhfd").exists()
    assert config.is_file(), "uninstall keeps the configuration"
    run("uninstall.sh", *layout, "--statedir", str(tmp_path / "var/lib"), "--purge")
    assert not (etc / "rlhfd").exists()
