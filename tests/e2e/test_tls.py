"""TLS and mutual TLS on the gRPC listener, with certificates made at test time, driven with the real
grpcurl (`-cacert`, `-cert`, `-key`) and the Python grpcio client; and certificates replaced on disk
are picked up without a restart."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import time
import urllib.error
import uuid

import grpc
import pytest

from certificates import CertificateAuthority, Issued
from harness import (
    RPC_TIMEOUT_S,
    SANDBOX_WEBHOOK_ENV,
    SANDBOX_WEBHOOK_SECRET,
    SUBPROCESS_TIMEOUT_S,
    inbound_message_webhook,
    post_webhook,
    send_request,
)

#: The gateway checks its certificate files every 5 s; a replaced certificate must be served well within this.
RELOAD_WAIT_S = 30.0


def grpcurl_tls(target: str, ca: CertificateAuthority, client: Issued | None = None) -> subprocess.CompletedProcess:
    """Lists the services over TLS, trusting `ca`, presenting `client` when given."""
    command = ["grpcurl", "-max-time", str(int(RPC_TIMEOUT_S)), "-cacert", str(ca.cert)]
    if client is not None:
        command += ["-cert", str(client.cert), "-key", str(client.key)]
    command += [target, "list"]
    return subprocess.run(command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


def grpcurl_plaintext(target: str) -> subprocess.CompletedProcess:
    command = ["grpcurl", "-plaintext", "-max-time", str(int(RPC_TIMEOUT_S)), target, "list"]
    return subprocess.run(command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


def python_send(
    target: str, pb, ca: CertificateAuthority, client: Issued | None = None, token: str | None = None
) -> str:
    """Sends a sandbox message over a grpcio secure channel, with `token` as bearer token when given;
    returns the message id."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    with grpc.secure_channel(target, credentials) as channel:
        stub = pb.stub("MessageService", channel)
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        answer = stub.SendMessage(
            pb.message("SendMessageRequest", send_request()), metadata=metadata, timeout=RPC_TIMEOUT_S
        )
    return answer.message_id


@pytest.fixture
def ca(tmp_path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path, "gateway-ca")


def tls_env(server: Issued, client_ca: CertificateAuthority | None = None) -> dict[str, str]:
    env = {"WGW_GRPC_TLS_CERT_FILE": str(server.cert), "WGW_GRPC_TLS_KEY_FILE": str(server.key)}
    if client_ca is not None:
        env["WGW_GRPC_TLS_CLIENT_CA_FILE"] = str(client_ca.cert)
    return env


def test_tls_serves_grpcurl_and_python_clients_that_trust_the_ca_and_refuses_plaintext(start_gateway, ca, pb):
    gateway = start_gateway(env=tls_env(ca.issue_server("server")))

    listed = grpcurl_tls(gateway.grpc_target, ca)
    assert listed.returncode == 0, listed.stderr
    assert "wazzup_gateway.v1.MessageService" in listed.stdout.split()
    assert python_send(gateway.grpc_target, pb, ca) != ""

    assert grpcurl_plaintext(gateway.grpc_target).returncode != 0


def test_mutual_tls_admits_only_clients_with_a_certificate_of_the_client_ca(start_gateway, tmp_path, ca, pb):
    client_ca = CertificateAuthority(tmp_path, "client-ca")
    stranger_ca = CertificateAuthority(tmp_path, "stranger-ca")
    gateway = start_gateway(env=tls_env(ca.issue_server("server"), client_ca=client_ca))
    billing = client_ca.issue_client("billing", "billing")

    admitted = grpcurl_tls(gateway.grpc_target, ca, billing)
    assert admitted.returncode == 0, admitted.stderr
    assert python_send(gateway.grpc_target, pb, ca, billing) != ""

    assert grpcurl_tls(gateway.grpc_target, ca).returncode != 0, "no client certificate must be refused"
    impostor = grpcurl_tls(gateway.grpc_target, ca, stranger_ca.issue_client("impostor", "billing"))
    assert impostor.returncode != 0, "a certificate of another CA must be refused"
    with pytest.raises(grpc.RpcError) as refused:
        python_send(gateway.grpc_target, pb, ca)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


BILLING_TOKEN = "e2e-billing-token-5d1c"


def test_a_token_bound_to_a_client_certificate_is_refused_from_any_other_client(start_gateway, tmp_path, ca, pb):
    client_ca = CertificateAuthority(tmp_path, "client-ca")
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[auth.tokens]]\nname = "billing"\ntoken_env = "E2E_BILLING_TOKEN"\nclient_cert_names = ["billing"]\n'
    )
    env = tls_env(ca.issue_server("server"), client_ca=client_ca) | {"E2E_BILLING_TOKEN": BILLING_TOKEN}
    gateway = start_gateway(args=["--sandbox", "--config", str(config)], env=env)
    billing = client_ca.issue_client("billing", "billing")
    reports = client_ca.issue_client("reports", "reports")

    assert python_send(gateway.grpc_target, pb, ca, billing, token=BILLING_TOKEN) != ""
    listed = grpcurl_call(gateway.grpc_target, ca, billing, f"authorization: Bearer {BILLING_TOKEN}")
    assert listed.returncode == 0, listed.stderr

    with pytest.raises(grpc.RpcError) as stolen:
        python_send(gateway.grpc_target, pb, ca, reports, token=BILLING_TOKEN)
    assert stolen.value.code() == grpc.StatusCode.UNAUTHENTICATED, stolen.value.details()
    with pytest.raises(grpc.RpcError) as wrong:
        python_send(gateway.grpc_target, pb, ca, billing, token="not-the-token")
    assert (wrong.value.code(), wrong.value.details()) == (stolen.value.code(), stolen.value.details()), \
        "a bound token from another client gets the same answer as a wrong token"
    refused = grpcurl_call(gateway.grpc_target, ca, reports, f"authorization: Bearer {BILLING_TOKEN}")
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr, refused.stderr
    assert BILLING_TOKEN not in gateway.log_text()


def grpcurl_call(target: str, ca: CertificateAuthority, client: Issued, header: str) -> subprocess.CompletedProcess:
    """Lists the sandbox's channels over mutual TLS as `client`, with `header`."""
    command = [
        "grpcurl", "-max-time", str(int(RPC_TIMEOUT_S)), "-cacert", str(ca.cert),
        "-cert", str(client.cert), "-key", str(client.key), "-H", header, "-d", "{}",
        target, "wazzup_gateway.v1.ChannelService/ListChannels",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


def test_a_certificate_replaced_on_disk_is_served_without_a_restart(start_gateway, tmp_path, ca):
    server = ca.issue_server("server")
    gateway = start_gateway(env=tls_env(server))
    assert grpcurl_tls(gateway.grpc_target, ca).returncode == 0

    original_cert = server.cert.read_bytes()
    server.cert.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    deadline = time.monotonic() + RELOAD_WAIT_S
    while "cannot be used; still serving the previous ones" not in gateway.log_text():
        assert time.monotonic() < deadline, f"the broken certificate was not noticed:\n{gateway.log_text()}"
        time.sleep(0.2)
    assert grpcurl_tls(gateway.grpc_target, ca).returncode == 0, "a broken replacement keeps the old certificate"
    server.cert.write_bytes(original_cert)

    renewed_ca = CertificateAuthority(tmp_path, "renewed-ca")
    renewed = renewed_ca.issue_server("renewed")
    # Replace key then certificate, as a certificate manager would; a half-replaced pair that does not
    # match is refused by the gateway, which keeps serving the old one until the pair matches again.
    server.key.write_bytes(renewed.key.read_bytes())
    server.cert.write_bytes(renewed.cert.read_bytes())

    deadline = time.monotonic() + RELOAD_WAIT_S
    while grpcurl_tls(gateway.grpc_target, renewed_ca).returncode != 0:
        assert time.monotonic() < deadline, f"the renewed certificate was not served:\n{gateway.log_text()}"
        time.sleep(0.5)
    assert grpcurl_tls(gateway.grpc_target, ca).returncode != 0, "the old certificate is no longer served"
    assert gateway.process.poll() is None


def test_the_webhook_listener_serves_https_with_its_own_certificate_and_refuses_plain_http(start_gateway, ca, pb):
    hooks = ca.issue_server("hooks")
    env = SANDBOX_WEBHOOK_ENV | {
        "WGW_WEBHOOK_TLS_CERT_FILE": str(hooks.cert),
        "WGW_WEBHOOK_TLS_KEY_FILE": str(hooks.key),
    }
    gateway = start_gateway(env=env)
    trusting = ssl.create_default_context(cafile=str(ca.cert))
    text = f"over-https-{uuid.uuid4().hex[:8]}"

    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stream = pb.stub("EventService", channel).Subscribe(
            pb.message("SubscribeRequest", {"earliest": True}), timeout=RPC_TIMEOUT_S
        )
        assert next(stream).WhichOneof("kind") == "heartbeat"
        assert post_webhook(gateway, inbound_message_webhook("https-1", text), tls=trusting) == 200
        event = next(response.event for response in stream if response.WhichOneof("kind") == "event")
        stream.cancel()
    assert event.message.text == text

    # Plain HTTP gets a TLS alert or a closed connection, never an HTTP answer.
    with pytest.raises((OSError, http.client.HTTPException)):
        post_webhook(gateway, inbound_message_webhook("plain-1", "plain"))
    with pytest.raises(urllib.error.URLError) as untrusted:
        post_webhook(gateway, inbound_message_webhook("untrusted-1", "x"), tls=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value)
    assert SANDBOX_WEBHOOK_SECRET not in gateway.log_text()
