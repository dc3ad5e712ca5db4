"""TLS and mutual TLS with certificates made by openssl for this run. Handshake failures show
as UNAVAILABLE on the client (the gRPC core reports them so), never as a hang."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from interop import SERVING, echo, health_check, rpc_error

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

# Python's client checks the host name against the certificate; pin it to the SAN.
OVERRIDE = [("grpc.ssl_target_name_override", "localhost")]
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str) -> None:
    openssl(
        directory, "req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-days", "2", "-subj", f"/CN=rlhfd interop {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )


def make_leaf(directory: Path, ca: str, name: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    openssl(directory, "req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
    openssl(
        directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
        "-CAkey", f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
        "-extfile", f"{name}.ext",
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA; a server certificate for localhost/127.0.0.1 and a client certificate, both signed
    by it; and a client certificate from another CA."""
    directory = tmp_path_factory.mktemp("pki")
    make_ca(directory, "ca")
    make_ca(directory, "other-ca")
    make_leaf(directory, "ca", "server",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_leaf(directory, "ca", "client", "extendedKeyUsage=clientAuth\n")
    make_leaf(directory, "other-ca", "stranger", "extendedKeyUsage=clientAuth\n")
    return directory


def credentials(pki: Path, client: str | None = None) -> grpc.ChannelCredentials:
    """Client credentials trusting the test CA, optionally presenting `client`'s certificate."""
    root = (pki / "ca.pem").read_bytes()
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=(pki / f"{client}.key").read_bytes(),
        certificate_chain=(pki / f"{client}.pem").read_bytes(),
    )


def server_args(pki: Path) -> list[str]:
    return ["--tls-certificate", str(pki / "server.pem"), "--tls-private-key", str(pki / "server.key")]


def secure(daemon, creds, options=OVERRIDE) -> grpc.Channel:
    return daemon.channel(credentials=creds, options=options)


def test_tls_serves_secure_channels(make_daemon, pki):
    """With a certificate and key, a client trusting the CA gets SERVING and a working Echo."""
    daemon = make_daemon(args=server_args(pki), credentials=credentials(pki),
                         channel_options=OVERRIDE)
    channel = secure(daemon, credentials(pki))
    assert health_check(channel) == SERVING
    assert echo(channel, b"over tls") == b"over tls"


def test_tls_certificate_matches_ip_without_override(make_daemon, pki):
    """The server certificate's IP SAN lets a client connect to 127.0.0.1:PORT without any
    target-name override (the server presents the configured chain)."""
    daemon = make_daemon(args=server_args(pki), credentials=credentials(pki),
                         channel_options=OVERRIDE)
    assert health_check(secure(daemon, credentials(pki), options=[])) == SERVING


def test_tls_refuses_plaintext_clients(make_daemon, pki):
    """A plaintext channel to a TLS port fails (UNAVAILABLE) promptly; the daemon still serves."""
    daemon = make_daemon(args=server_args(pki), credentials=credentials(pki),
                         channel_options=OVERRIDE)
    plain = daemon.channel(insecure=True)
    error = rpc_error(lambda: health_check(plain, timeout=3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert health_check(secure(daemon, credentials(pki))) == SERVING


def test_tls_client_must_trust_the_server(make_daemon, pki):
    """A client that trusts only another CA refuses the server's certificate (UNAVAILABLE)."""
    daemon = make_daemon(args=server_args(pki), credentials=credentials(pki),
                         channel_options=OVERRIDE)
    other = grpc.ssl_channel_credentials(root_certificates=(pki / "other-ca.pem").read_bytes())
    error = rpc_error(lambda: health_check(secure(daemon, other), timeout=3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())


@pytest.fixture
def mtls_daemon(make_daemon, pki):
    """A daemon that requires a client certificate signed by the test CA."""
    args = server_args(pki) + ["--tls-client-ca", str(pki / "ca.pem"), "--require-client-certificate"]
    return make_daemon(args=args, credentials=credentials(pki, "client"), channel_options=OVERRIDE)


def test_mtls_accepts_a_client_certificate_from_the_ca(mtls_daemon, pki):
    """mTLS: a client presenting a certificate signed by --tls-client-ca is served."""
    channel = secure(mtls_daemon, credentials(pki, "client"))
    assert health_check(channel) == SERVING
    assert echo(channel, b"mutual") == b"mutual"


@pytest.mark.parametrize("client", [None, "stranger"], ids=["no-certificate", "other-ca"])
def test_mtls_refuses_clients_without_a_valid_certificate(mtls_daemon, pki, client):
    """mTLS: no client certificate, or one from another CA, fails the handshake (UNAVAILABLE
    on the client); a good client is still served afterwards."""
    error = rpc_error(lambda: health_check(secure(mtls_daemon, credentials(pki, client)), timeout=3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert health_check(secure(mtls_daemon, credentials(pki, "client"))) == SERVING


def test_mtls_refuses_plaintext(mtls_daemon):
    """mTLS: a plaintext client fails too (UNAVAILABLE)."""
    plain = mtls_daemon.channel(insecure=True)
    error = rpc_error(lambda: health_check(plain, timeout=3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())


def test_optional_client_certificate(make_daemon, pki):
    """--tls-client-ca without --require-client-certificate: clients with and without a
    certificate are both served."""
    args = server_args(pki) + ["--tls-client-ca", str(pki / "ca.pem")]
    daemon = make_daemon(args=args, credentials=credentials(pki), channel_options=OVERRIDE)
    assert health_check(secure(daemon, credentials(pki))) == SERVING
    assert health_check(secure(daemon, credentials(pki, "client"))) == SERVING


def test_mismatched_key_fails_the_start(make_daemon, pki):
    """A certificate with another certificate's key exits non-zero naming the address."""
    args = ["--tls-certificate", str(pki / "server.pem"), "--tls-private-key", str(pki / "client.key")]
    daemon = make_daemon(args=args, start=False).start(wait=False)
    assert daemon.wait_exit(10) != 0, daemon.stderr_text()
    assert daemon.target in daemon.stderr_text(), daemon.stderr_text()
