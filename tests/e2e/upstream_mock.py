"""The built binary with one account against a local recording mock of its upstream API.

Shared by the dialect e2e tests (`test_wazzup_v3_mock.py`, `test_wazzup_tech_exports.py`): a stdlib
HTTP server in a thread records every request (method, path, authorization header, JSON body) and
answers through a callback; the gateway runs as a subprocess with one account pointing at it and is
driven with grpcurl (reflection only). 127.0.0.1 only, every wait bounded, and SIGTERM must end the
gateway with exit code 0.
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
from typing import Callable

import pytest

from harness import REPO_ROOT

TIMEOUT_S = 30.0

#: An answer: HTTP status, body (JSON-encoded unless bytes) and content type.
Answer = tuple[int, object, str]
#: Decides the answer from the method and path.
Answerer = Callable[[str, str], Answer]


def json_answer(status: int, body: object) -> Answer:
    return status, body, "application/json"


class RecordingUpstream:
    """A recording stand-in for an upstream API on 127.0.0.1."""

    def __init__(self, answer: Answerer) -> None:
        self.requests: list[dict] = []
        self.answer = answer
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
                    "traceparent": self.headers.get("traceparent"),
                    "body": json.loads(raw) if raw else None,
                })
                status, body, content_type = mock.answer(self.command, self.path)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _record_and_answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def of(self, method: str, path: str) -> list[dict]:
        return [request for request in self.requests if (request["method"], request["path"]) == (method, path)]

    def __enter__(self) -> "RecordingUpstream":
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


class MockedGateway:
    """The built binary with one account "acme" of `dialect` whose API is at `base_url`."""

    def __init__(
        self,
        workdir: Path,
        dialect: str,
        base_url: str,
        api_key: str,
        extra_env: dict[str, str] | None = None,
        webhook_port: int | None = None,
    ) -> None:
        """`webhook_port` fixes the webhook listener's port (e.g. to configure the public webhook URL
        before the start); a free one by default."""
        key_file = workdir / "acme-api-key"
        key_file.write_text(api_key + "\n")
        config = workdir / "gateway.toml"
        config.write_text(
            "[[accounts]]\n"
            'name = "acme"\n'
            f"dialect = {json.dumps(dialect)}\n"
            f"base_url = {json.dumps(base_url)}\n"
            f"api_key_file = {json.dumps(str(key_file))}\n"
        )
        self.api_key = api_key
        self.grpc = f"127.0.0.1:{free_port()}"
        self.webhook_port = webhook_port or free_port()
        self.admin_port = free_port()
        self.log_path = workdir / "gateway.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("WGW_")}
        env["WGW_LOG_FORMAT"] = "json"
        env.update(extra_env or {})
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary()), "--config", str(config),
                 "--grpc-listen", self.grpc,
                 "--webhook-listen", f"127.0.0.1:{self.webhook_port}",
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

    def grpcurl_messages(
        self, method: str, data: dict, max_time_s: int = 10, headers: tuple[str, ...] = ()
    ) -> list[dict]:
        """Calls `method` with grpcurl, with `headers` ("name: value") as request metadata; every
        message it printed (one for unary calls)."""
        header_flags = [flag for header in headers for flag in ("-rpc-header", header)]
        result = subprocess.run(
            ["grpcurl", "-plaintext", "-max-time", str(max_time_s), *header_flags, "-d", json.dumps(data),
             self.grpc, f"wazzup_gateway.v1.{method}"],
            capture_output=True, text=True, timeout=max_time_s + 50,
        )
        assert result.returncode == 0, f"grpcurl {method} failed:\n{result.stdout}\n{result.stderr}"
        decoder, text, messages = json.JSONDecoder(), result.stdout.strip(), []
        while text:
            message, end = decoder.raw_decode(text)
            messages.append(message)
            text = text[end:].lstrip()
        return messages

    def grpcurl_failure(self, method: str, data: dict, max_time_s: int = 30) -> str:
        """Calls `method` with grpcurl, expecting an error status; what grpcurl printed."""
        result = subprocess.run(
            ["grpcurl", "-plaintext", "-max-time", str(max_time_s), "-d", json.dumps(data), self.grpc,
             f"wazzup_gateway.v1.{method}"],
            capture_output=True, text=True, timeout=max_time_s + 50,
        )
        assert result.returncode != 0, f"grpcurl {method} succeeded:\n{result.stdout}"
        return result.stdout + result.stderr

    def grpcurl(self, method: str, data: dict, headers: tuple[str, ...] = ()) -> dict:
        (message,) = self.grpcurl_messages(method, data, headers=headers)
        return message


def running_gateway(
    tmp_path: Path, dialect: str, base_url: str, api_key: str, extra_env: dict[str, str] | None = None
):
    """Starts the gateway (with `extra_env` added to its environment), yields it ready, then stops
    it and checks its exit and its log."""
    for variable in ("no_proxy", "NO_PROXY"):
        os.environ[variable] = ",".join(filter(None, [os.environ.get(variable), "127.0.0.1", "localhost"]))
    gateway = MockedGateway(tmp_path, dialect, base_url, api_key, extra_env)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        exit_code = gateway.stop()
        log = gateway.log()
        assert api_key not in log, "the API key must never reach the logs"
        assert exit_code == 0, f"gateway exited with {exit_code} after SIGTERM; log:\n{log}"
