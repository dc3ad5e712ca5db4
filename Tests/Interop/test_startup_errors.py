"""Startup failures are loud and fast: a port in use or a bad configuration exits non-zero
with a message naming the problem; `check-config` prints the resolved configuration as JSON."""

from __future__ import annotations

import json
import subprocess

import pytest

from interop import SERVING, echo, health_check


def run(rlhfd_bin, *args, timeout=10.0):
    """Runs the binary to completion (bounded); returns the CompletedProcess."""
    return subprocess.run(
        [str(rlhfd_bin), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_second_daemon_on_a_used_port_fails_and_first_keeps_serving(make_daemon):
    """A second daemon on the port of a running one exits non-zero within 10 s, its stderr
    names the address and says it is in use; the first daemon still serves (no SO_REUSEPORT
    sharing)."""
    first = make_daemon()
    second = make_daemon(listen=[first.target], start=False).start(wait=False)
    code = second.wait_exit(10)
    stderr = second.stderr_text()
    assert code != 0, stderr
    assert first.target in stderr, stderr
    assert "in use" in stderr, stderr
    channel = first.channel()
    for _ in range(5):  # several fresh connections, all answered by the first daemon
        assert health_check(channel) == SERVING
    assert echo(first.channel(), b"first") == b"first"


def test_one_bad_address_among_several_fails_the_start(make_daemon):
    """If any --listen address cannot be bound the daemon exits non-zero (it never serves on a
    subset), naming the failing address."""
    first = make_daemon()
    second = make_daemon(start=False)
    second.listen = [second.target, first.target]
    second.start(wait=False)
    assert second.wait_exit(10) != 0, second.stderr_text()
    assert first.target in second.stderr_text(), second.stderr_text()


BAD_CONFIGS = [
    # (test id, YAML text, text stderr must contain)
    ("unknown-key", "listen: ['127.0.0.1:0']\nlisne: x\n", "lisne"),
    ("unknown-tls-key", "tls:\n  certificate: a.pem\n  private_key: b.pem\n  cert: c\n", "tls.cert"),
    ("negative-drain", "drain_timeout_seconds: -1\n", "drain_timeout_seconds"),
    ("bad-log-level", "log_level: loud\n", "log_level"),
    ("tiny-message-limit", "max_receive_message_bytes: 10\n", "max_receive_message_bytes"),
    ("not-a-mapping", "- listen\n", "mapping"),
    ("wrong-type", "debug_service: [1, 2]\n", "debug_service"),
    ("empty-listen", "listen: []\n", "listen"),
    ("bad-precision", "precision: fp16\n", "precision"),
]


@pytest.mark.parametrize("subcommand", ["serve", "check-config"])
@pytest.mark.parametrize("yaml_text, expected", [c[1:] for c in BAD_CONFIGS],
                         ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_exits_nonzero_naming_the_problem(
    rlhfd_bin, tmp_path, subcommand, yaml_text, expected
):
    """A configuration file with an unknown key or an invalid value makes both `serve` and
    `check-config` exit non-zero at once, with the offending key named on stderr."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    result = run(rlhfd_bin, subcommand, "--config", str(path))
    assert result.returncode != 0, result
    assert expected in result.stderr, result.stderr


def test_missing_config_file_exits_nonzero(rlhfd_bin, tmp_path):
    """A --config path that does not exist is an error naming the path."""
    path = tmp_path / "absent.yaml"
    result = run(rlhfd_bin, "serve", "--config", str(path))
    assert result.returncode != 0
    assert str(path) in result.stderr, result.stderr


def test_check_config_prints_resolved_json(rlhfd_bin, tmp_path):
    """`check-config --config good.yaml` exits 0 and prints the file's values (and defaults for
    the rest) as JSON keyed like the YAML; flags override the file."""
    path = tmp_path / "good.yaml"
    path.write_text(
        "listen: ['127.0.0.1:7001', 'unix:/tmp/rlhfd-check.sock']\n"
        "drain_timeout_seconds: 3.5\n"
        "log_level: debug\n"
        "debug_service: true\n"
    )
    result = run(rlhfd_bin, "check-config", "--config", str(path))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["listen"] == ["127.0.0.1:7001", "unix:/tmp/rlhfd-check.sock"]
    assert config["drain_timeout_seconds"] == 3.5
    assert config["log_level"] == "debug"
    assert config["debug_service"] is True
    assert config["max_receive_message_bytes"] == 32 << 20

    result = run(
        rlhfd_bin, "check-config", "--config", str(path),
        "--listen", "127.0.0.1:7002", "--drain-timeout", "1",
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["listen"] == ["127.0.0.1:7002"]
    assert config["drain_timeout_seconds"] == 1


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--tls-certificate", "/nonexistent.pem"], "--tls-private-key"),
        (["--tls-client-ca", "/nonexistent.pem"], "TLS"),
        (["--max-receive-message-bytes", "5"], "max_receive_message_bytes"),
        (["--log-level", "loud"], "log_level"),
    ],
    ids=["cert-without-key", "client-ca-without-tls", "tiny-limit", "bad-log-level"],
)
def test_bad_flags_exit_nonzero(rlhfd_bin, args, expected):
    """Inconsistent or out-of-range flags make `serve` exit non-zero at once, saying why."""
    result = run(rlhfd_bin, "serve", "--listen", "127.0.0.1:0", *args)
    assert result.returncode != 0, result
    assert expected in result.stderr, result.stderr


def test_unreadable_tls_file_fails_the_start(rlhfd_bin, tmp_path):
    """TLS files that do not exist make `serve` exit non-zero naming the file."""
    result = run(
        rlhfd_bin, "serve", "--listen", "127.0.0.1:0",
        "--tls-certificate", str(tmp_path / "cert.pem"),
        "--tls-private-key", str(tmp_path / "key.pem"),
    )
    assert result.returncode != 0, result
    assert "cert.pem" in result.stderr, result.stderr
