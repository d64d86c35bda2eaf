"""No secret reaches the logs, even at trace level."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from harness import RPC_TIMEOUT_S, send_request, write_acme_config

CALLER_TOKEN = "e2e-caller-token-c0ffee1d"
WRONG_TOKEN = "e2e-wrong-token-b4dc0de5"
ACME_API_KEY = "e2e-acme-api-key-9e21f7aa"
ACME_WEBHOOK_SECRET = "e2e-acme-webhook-secret-77d3e0b6"
UPSTREAM_CALL_TIMEOUT_S = 3.0


class FakeWazzupHandler(BaseHTTPRequestHandler):
    """Answers every request with a small JSON body, so acme's calls reach a real HTTP exchange."""

    def do_GET(self):
        self._answer(b"[]")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(json.dumps({"messageId": str(uuid.uuid4()), "chatId": "79991112233"}).encode())

    def _answer(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_wazzup():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWazzupHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_trace_logs_contain_no_token_api_key_or_webhook_secret(start_gateway, pb, tmp_path, fake_wazzup):
    config_file = write_acme_config(tmp_path, ACME_API_KEY, base_url=fake_wazzup)
    gateway = start_gateway(
        args=["--sandbox"],
        env={
            "WGW_LOG": "trace",
            "WGW_AUTH_TOKEN": CALLER_TOKEN,
            "WGW_CONFIG_FILE": str(config_file),
            "WGW_ACCOUNT_ACME_WEBHOOK_SECRET": ACME_WEBHOOK_SECRET,
        },
    )
    authorized = (("authorization", f"Bearer {CALLER_TOKEN}"),)
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        messages = pb.stub("MessageService", channel)
        channels = pb.stub("ChannelService", channel)
        sent = messages.SendMessage(
            pb.message("SendMessageRequest", {**send_request(), "account": "sandbox"}),
            metadata=authorized,
            timeout=RPC_TIMEOUT_S,
        )
        for metadata in [(), (("authorization", f"Bearer {WRONG_TOKEN}"),)]:
            with pytest.raises(grpc.RpcError) as raised:
                messages.SendMessage(
                    pb.message("SendMessageRequest", send_request()), metadata=metadata, timeout=RPC_TIMEOUT_S
                )
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Whatever acme answers (its dialect may not be complete yet), the calls must not log its key.
        for call, request in [
            (channels.ListChannels, pb.message("ListChannelsRequest", {"account": "acme"})),
            (messages.SendMessage, pb.message("SendMessageRequest", {**send_request(), "account": "acme"})),
        ]:
            try:
                call(request, metadata=authorized, timeout=UPSTREAM_CALL_TIMEOUT_S)
            except grpc.RpcError:
                pass

    assert gateway.stop() == 0
    log = gateway.log_text()

    assert sent.message_id
    assert log.strip(), "the gateway logged nothing at WGW_LOG=trace"
    secrets = {
        "caller token": CALLER_TOKEN,
        "wrong caller token": WRONG_TOKEN,
        "acme API key": ACME_API_KEY,
        "acme webhook secret": ACME_WEBHOOK_SECRET,
    }
    leaked = [name for name, secret in secrets.items() if secret in log]
    assert not leaked, f"secrets in the log: {leaked}"
