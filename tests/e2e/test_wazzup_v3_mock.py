"""The built binary against a local mock of the Wazzup v3 API, driven with grpcurl (reflection only).

Self-contained (no conftest or harness import) so it runs on its own and beside the sandbox e2e suite:
it follows that suite's conventions (WGW_E2E_BINARY, grpcurl on PATH, 127.0.0.1 only, every wait
bounded, SIGTERM must end the gateway with exit code 0).

The mock is a stdlib HTTP server in a thread that records every request (method, path, authorization
header, JSON body) and answers like the documented v3 API.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "e2e-key-c8cf90444023482f909520d454368d27"
WHATSAPP = "e0629e11-0f67-4567-92a9-2237e91ec1b9"
TELEGRAM_BOT = "d9e5721c-ce2b-444f-9627-60a8129d7e1f"
SENT_ID = "f66c53a6-957a-46b2-b41b-5a2ef4844bcb"
TIMEOUT_S = 30.0

CHANNELS = [
    {"channelId": WHATSAPP, "transport": "whatsapp", "plainId": "79865784457", "state": "active"},
    {"channelId": TELEGRAM_BOT, "transport": "telegram", "plainId": "acme_bot", "state": "active", "tier": "x"},
]


class WazzupV3Mock:
    """A recording stand-in for api.wazzup24.com/v3 on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output quiet
                pass

            def _record_and_answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                mock.requests.append({
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("authorization"),
                    "body": json.loads(raw) if raw else None,
                })
                status, answer = mock.answer(self.command, self.path)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _record_and_answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str) -> tuple[int, object]:
        if (method, path) == ("GET", "/v3/channels"):
            return 200, CHANNELS
        if (method, path) == ("POST", "/v3/message"):
            return 201, {"messageId": SENT_ID, "chatId": "79011112233"}
        if path.startswith("/v3/message/") and method in ("PATCH", "DELETE"):
            return 200, {}
        return 404, {"error": "NOT_FOUND", "description": "unknown route"}

    def of(self, method: str, path: str) -> list[dict]:
        return [request for request in self.requests if (request["method"], request["path"]) == (method, path)]

    def __enter__(self) -> "WazzupV3Mock":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def binary() -> Path:
    path = Path(os.environ.get("WGW_E2E_BINARY", REPO_ROOT / "target/debug/wazzup-gateway"))
    path = path if path.is_absolute() else REPO_ROOT / path
    if not os.access(path, os.X_OK):
        pytest.fail(f"gateway binary {path} is missing; build it with `cargo build --bin wazzup-gateway`")
    return path


class V3Gateway:
    """The built binary with one wazzup_v3 account "acme" pointing at the mock."""

    def __init__(self, workdir: Path, base_url: str) -> None:
        key_file = workdir / "acme-api-key"
        key_file.write_text(API_KEY + "\n")
        config = workdir / "gateway.toml"
        config.write_text(
            "[[accounts]]\n"
            'name = "acme"\n'
            'dialect = "wazzup_v3"\n'
            f"base_url = {json.dumps(base_url)}\n"
            f"api_key_file = {json.dumps(str(key_file))}\n"
        )
        self.grpc = f"127.0.0.1:{free_port()}"
        self.admin_port = free_port()
        self.log_path = workdir / "gateway.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("WGW_")}
        env["WGW_LOG_FORMAT"] = "json"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary()), "--config", str(config),
                 "--grpc-listen", self.grpc,
                 "--webhook-listen", f"127.0.0.1:{free_port()}",
                 "--admin-listen", f"127.0.0.1:{self.admin_port}",
                 "--data-dir", str(workdir / "data")],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gateway exited early; log:\n{self.log()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway not ready in {TIMEOUT_S} s; log:\n{self.log()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise

    def grpcurl(self, method: str, data: dict) -> dict:
        result = subprocess.run(
            ["grpcurl", "-plaintext", "-max-time", "10", "-d", json.dumps(data), self.grpc,
             f"wazzup_gateway.v1.{method}"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, f"grpcurl {method} failed:\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout)


@pytest.fixture
def mock():
    with WazzupV3Mock() as running:
        yield running


@pytest.fixture
def v3_gateway(mock, tmp_path):
    for variable in ("no_proxy", "NO_PROXY"):
        os.environ[variable] = ",".join(filter(None, [os.environ.get(variable), "127.0.0.1", "localhost"]))
    gateway = V3Gateway(tmp_path, mock.base_url)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        exit_code = gateway.stop()
        log = gateway.log()
        assert API_KEY not in log, "the API key must never reach the logs"
        assert exit_code == 0, f"gateway exited with {exit_code} after SIGTERM; log:\n{log}"


def test_grpcurl_lists_channels_from_the_v3_api(v3_gateway, mock):
    answer = v3_gateway.grpcurl("ChannelService/ListChannels", {})

    assert [channel["channelId"] for channel in answer["channels"]] == [WHATSAPP, TELEGRAM_BOT]
    assert answer["channels"][0]["transport"] == "TRANSPORT_WHATSAPP"
    assert answer["channels"][1]["transport"] == "TRANSPORT_TELEGRAM_BOT"
    assert answer["channels"][0]["state"] == "CHANNEL_STATE_ACTIVE"
    assert answer["channels"][0]["account"] == "acme"
    assert answer["channels"][0]["provider"] == "wazzup_v3"
    (listed,) = mock.of("GET", "/v3/channels")
    assert listed["authorization"] == f"Bearer {API_KEY}"


def test_grpcurl_send_edit_delete_reach_the_v3_api_with_the_exact_json(v3_gateway, mock):
    sent = v3_gateway.grpcurl("MessageService/SendMessage", {
        "channel_id": WHATSAPP,
        "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
        "text": "hello from grpcurl",
        "idempotency_key": "order-1",
        "reset_unanswered": False,
    })
    edited = v3_gateway.grpcurl("MessageService/EditMessage", {"message_id": SENT_ID, "text": "edited"})
    deleted = v3_gateway.grpcurl("MessageService/DeleteMessage", {"message_id": SENT_ID})

    assert sent == {"messageId": SENT_ID, "chatId": "79011112233"}
    assert edited["messageId"] == SENT_ID
    assert deleted["messageId"] == SENT_ID
    (send,) = mock.of("POST", "/v3/message")
    assert send["body"] == {
        "channelId": WHATSAPP,
        "chatType": "whatsapp",
        "chatId": "79011112233",
        "text": "hello from grpcurl",
        "crmMessageId": "order-1",
        "clearUnanswered": False,
    }
    (edit,) = mock.of("PATCH", f"/v3/message/{SENT_ID}")
    assert edit["body"] == {"text": "edited"}
    (delete,) = mock.of("DELETE", f"/v3/message/{SENT_ID}")
    assert delete["body"] is None
    assert {request["authorization"] for request in mock.requests} == {f"Bearer {API_KEY}"}
    assert len(mock.of("GET", "/v3/channels")) == 1, "the send validated against the cached channel list"
