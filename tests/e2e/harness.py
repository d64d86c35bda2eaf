"""Runs the built gateway binary and talks to it the way users do: grpcurl and a Python grpcio client.

Everything binds 127.0.0.1, and every wait and subprocess call is bounded.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "wazzup_gateway.v1"

READY_TIMEOUT_S = 30.0
# A README command line runs `cargo run`, which builds first when the test command has not.
COMMAND_LINE_READY_TIMEOUT_S = 1200.0
STOP_TIMEOUT_S = 30.0
SUBPROCESS_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 10.0

# The sandbox account's fixed channels (see design/API.md and the sandbox upstream).
WHATSAPP_CHANNEL = "11111111-1111-4111-8111-111111111111"
WABA_CHANNEL = "22222222-2222-4222-8222-222222222222"
TELEGRAM_BOT_CHANNEL = "33333333-3333-4333-8333-333333333333"
INSTAGRAM_CHANNEL = "44444444-4444-4444-8444-444444444444"
QR_CHANNEL = "55555555-5555-4555-8555-555555555555"

SERVICES = {
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    f"{PACKAGE}.ChannelService",
    f"{PACKAGE}.MessageService",
    f"{PACKAGE}.TemplateService",
    f"{PACKAGE}.ExportService",
    f"{PACKAGE}.WebhookService",
    f"{PACKAGE}.EventService",
    f"{PACKAGE}.SandboxService",
}


def send_request(channel_id: str = WHATSAPP_CHANNEL, chat_id: str = "79991112233", text: str = "hello") -> dict:
    """Proto-JSON of a SendMessageRequest to a WhatsApp chat."""
    return {
        "channel_id": channel_id,
        "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": chat_id},
        "text": text,
    }


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment_without_gateway_settings() -> dict[str, str]:
    """This process's environment minus WGW_* settings, so a developer's shell cannot change a test."""
    return {key: value for key, value in os.environ.items() if not key.startswith("WGW_")}


_FLAGS = {
    "WGW_GRPC_LISTEN_ADDR": "--grpc-listen",
    "WGW_WEBHOOK_LISTEN_ADDR": "--webhook-listen",
    "WGW_ADMIN_LISTEN_ADDR": "--admin-listen",
    "WGW_DATA_DIR": "--data-dir",
}


def _as_flags(settings: dict[str, str]) -> list[str]:
    """The command-line flags that set the same listeners and data directory as `settings`."""
    return [part for name, value in settings.items() for part in (_FLAGS[name], value)]


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, str]:
    """Status and body of a GET, without raising on non-2xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Gateway:
    """One gateway process started from the built binary, with its output captured to a file."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        args: list[str],
        env: dict[str, str],
        data_dir: Path | None = None,
        command_line: str | None = None,
    ):
        """Runs `binary` with `args`, or else `command_line` (a shell command as the README gives it,
        run by bash from the repository root), on free ports and in `data_dir` (default: under `workdir`)."""
        self.binary = binary
        self.grpc_port = free_port()
        self.webhook_port = free_port()
        self.admin_port = free_port()
        self.data_dir = data_dir if data_dir is not None else workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "gateway.log"
        self.ready_timeout_s = READY_TIMEOUT_S
        places = {
            "WGW_GRPC_LISTEN_ADDR": self.grpc_target,
            "WGW_WEBHOOK_LISTEN_ADDR": f"127.0.0.1:{self.webhook_port}",
            "WGW_ADMIN_LISTEN_ADDR": f"127.0.0.1:{self.admin_port}",
            "WGW_DATA_DIR": str(self.data_dir),
        }
        process_env = {**environment_without_gateway_settings(), "WGW_LOG_FORMAT": "json", **env}
        if command_line is None:
            command = [str(binary), *args, *_as_flags(places)]
            cwd = None
        else:
            # The command line stays as written: the listeners and the data directory come from the
            # environment, and cargo may still have to build (bounded by COMMAND_LINE_READY_TIMEOUT_S).
            command = ["bash", "-c", command_line]
            cwd = REPO_ROOT
            process_env.update(places)
            self.ready_timeout_s = COMMAND_LINE_READY_TIMEOUT_S
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=process_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.exit_code: int | None = None
        self.killed = False

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def admin_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"gateway exited with code {self.process.returncode} before /readyz answered 200;"
                    f" log:\n{self.log_text()}"
                )
            try:
                status, _ = http_get(self.admin_url("/readyz"), timeout_s=1.0)
                if status == 200:
                    return
                last_problem = f"/readyz answered {status}"
            except OSError as error:
                last_problem = f"/readyz: {error}"
            time.sleep(0.1)
        raise AssertionError(
            f"gateway not ready within {self.ready_timeout_s} s ({last_problem}); log:\n{self.log_text()}"
        )

    def sigkill(self) -> None:
        """SIGKILL, as a crash: no shutdown path runs. The fixture then expects no clean exit code."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.killed = True
        self.exit_code = self.process.wait(timeout=STOP_TIMEOUT_S)

    def send_sigterm(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Exit code, killing the process (and failing) if it outlives the timeout."""
        try:
            self.exit_code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"gateway still running {timeout_s} s after SIGTERM; killed it")
        return self.exit_code

    def stop(self) -> int:
        """SIGTERM, then the exit code; idempotent."""
        if self.exit_code is not None:
            return self.exit_code
        if self.process.poll() is None:
            self.send_sigterm()
        return self.wait_exit()


# ---------------------------------------------------------------------------------------------- grpcurl


def grpcurl(
    target: str,
    *args: str,
    data: dict | None = None,
    headers: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """Runs the real grpcurl (server reflection only, never -proto/-protoset) against a plaintext target."""
    command = ["grpcurl", "-plaintext", "-max-time", str(int(RPC_TIMEOUT_S))]
    for header in headers:
        command += ["-H", header]
    if data is not None:
        command += ["-d", json.dumps(data)]
    command += [target, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


def grpcurl_ok_json(target: str, method: str, data: dict, headers: tuple[str, ...] = ()) -> dict:
    """Calls a unary method with grpcurl and returns its JSON answer with proto (snake_case) field names."""
    result = grpcurl(target, method, data=data, headers=headers)
    assert result.returncode == 0, f"grpcurl {method} failed:\n{result.stdout}\n{result.stderr}"
    return snake_case_keys(json.loads(result.stdout))


@dataclass
class GrpcurlError:
    code: str
    message: str
    details: list[dict]


_DETAIL_START = re.compile(r"^  \d+\)\t(.*)$")
_DETAIL_CONTINUATION = re.compile(r"^ +\t(.*)$")


def parse_grpcurl_error(output: str) -> GrpcurlError:
    """Parses grpcurl's human error print-out (`ERROR:`, `Code:`, `Message:`, numbered JSON `Details:`)."""
    code_match = re.search(r"^  Code: (\S+)$", output, re.MULTILINE)
    message_match = re.search(r"^  Message: (.*)$", output, re.MULTILINE)
    assert code_match and message_match, f"not a grpcurl error print-out:\n{output}"
    detail_texts: list[list[str]] = []
    in_details = False
    for line in output.splitlines():
        if line == "  Details:":
            in_details = True
            continue
        if not in_details:
            continue
        start = _DETAIL_START.match(line)
        continuation = _DETAIL_CONTINUATION.match(line)
        if start:
            detail_texts.append([start.group(1)])
        elif continuation and detail_texts:
            detail_texts[-1].append(continuation.group(1))
    details = []
    for lines in detail_texts:
        try:
            details.append(snake_case_keys(json.loads("\n".join(lines))))
        except json.JSONDecodeError:
            raise AssertionError(f"grpcurl could not render a detail as JSON:\n{output}") from None
    return GrpcurlError(code=code_match.group(1), message=message_match.group(1), details=details)


def snake_case_keys(value):
    """grpcurl prints lowerCamelCase JSON names; tests compare against proto field names."""
    if isinstance(value, dict):
        return {_snake_case(key): snake_case_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case_keys(item) for item in value]
    return value


def _snake_case(name: str) -> str:
    if name.startswith("@"):
        return name
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


# ----------------------------------------------------------------------------------------------- grpcio


class Protos:
    """Python stubs generated from proto/ at test-session start (never committed)."""

    def __init__(self, out_dir: Path):
        if str(out_dir) not in sys.path:
            sys.path.insert(0, str(out_dir))
        self._grpc_modules = []
        for path in sorted(out_dir.rglob("*_pb2*.py")):
            module_name = ".".join(path.relative_to(out_dir).with_suffix("").parts)
            module = importlib.import_module(module_name)
            if module_name.endswith("_pb2_grpc"):
                self._grpc_modules.append(module)
        self._pool = descriptor_pool.Default()

    @classmethod
    def generate(cls, out_dir: Path) -> "Protos":
        proto_root = REPO_ROOT / "proto"
        proto_files = sorted(str(path.relative_to(proto_root)) for path in proto_root.rglob("*.proto"))
        assert proto_files, "no .proto files under proto/"
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            "-Iproto", "-Ithird_party/proto",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
            *proto_files,
        ]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
        assert result.returncode == 0, f"protoc failed:\n{result.stdout}\n{result.stderr}"
        return cls(out_dir)

    def message(self, short_name: str, data: dict | None = None):
        """A `wazzup_gateway.v1.<short_name>` message, filled from proto-JSON."""
        descriptor = self._pool.FindMessageTypeByName(f"{PACKAGE}.{short_name}")
        message = message_factory.GetMessageClass(descriptor)()
        if data is not None:
            json_format.ParseDict(data, message)
        return message

    def stub(self, service: str, channel: grpc.Channel):
        """The generated client stub of `wazzup_gateway.v1.<service>`."""
        for module in self._grpc_modules:
            stub_class = getattr(module, f"{service}Stub", None)
            if stub_class is not None:
                return stub_class(channel)
        raise AssertionError(f"no generated stub for {service}")


def to_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def rpc_error_details(error: grpc.RpcError) -> dict[str, list]:
    """The google.rpc.Status details of a failed call, decoded and grouped by message name."""
    status = rpc_status.from_call(error)
    assert status is not None, f"no grpc-status-details-bin on {error.code()}: {error.details()}"
    assert status.code == error.code().value[0], "status detail code differs from the call's code"
    decoded: dict[str, list] = {}
    known = {
        "google.rpc.ErrorInfo": error_details_pb2.ErrorInfo,
        "google.rpc.BadRequest": error_details_pb2.BadRequest,
        "google.rpc.RetryInfo": error_details_pb2.RetryInfo,
        "google.rpc.PreconditionFailure": error_details_pb2.PreconditionFailure,
        "google.rpc.ResourceInfo": error_details_pb2.ResourceInfo,
        "google.rpc.LocalizedMessage": error_details_pb2.LocalizedMessage,
        "google.rpc.Help": error_details_pb2.Help,
        "google.rpc.DebugInfo": error_details_pb2.DebugInfo,
        "google.rpc.QuotaFailure": error_details_pb2.QuotaFailure,
        "google.rpc.RequestInfo": error_details_pb2.RequestInfo,
    }
    for detail in status.details:
        type_name = detail.type_url.rsplit("/", 1)[-1]
        message_class = known.get(type_name)
        assert message_class is not None, f"unexpected detail type {detail.type_url}"
        message = message_class()
        assert detail.Unpack(message)
        decoded.setdefault(type_name, []).append(message)
    return decoded


def write_acme_config(directory: Path, api_key: str, base_url: str | None = None) -> Path:
    """A config file declaring a `wazzup_v3` account "acme" whose API key is read from a file."""
    key_file = directory / "acme-api-key"
    key_file.write_text(api_key + "\n")
    lines = [
        "[[accounts]]",
        'name = "acme"',
        'dialect = "wazzup_v3"',
        f"api_key_file = {json.dumps(str(key_file))}",
    ]
    if base_url is not None:
        lines.append(f"base_url = {json.dumps(base_url)}")
    config_file = directory / "gateway.toml"
    config_file.write_text("\n".join(lines) + "\n")
    return config_file


def run_binary(binary: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs a one-shot subcommand of the binary (e.g. check-config) with output captured."""
    return subprocess.run(
        [str(binary), *args],
        env={**environment_without_gateway_settings(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )


# ---------------------------------------------------------------------------------------------- webhooks

SANDBOX_WEBHOOK_SECRET = "e2e-sandbox-webhook-secret-5c1f9a2e"
SANDBOX_WEBHOOK_ENV = {"WGW_ACCOUNT_SANDBOX_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET}


def inbound_message_webhook(message_id: str, text: str, chat_id: str = "79999999999") -> dict:
    """A Wazzup v3 webhook body carrying one inbound WhatsApp text message."""
    return {
        "messages": [
            {
                "messageId": message_id,
                "channelId": WHATSAPP_CHANNEL,
                "chatType": "whatsapp",
                "chatId": chat_id,
                "type": "text",
                "isEcho": False,
                "text": text,
                "status": "inbound",
                "dateTime": "2025-05-06T14:16:00.002Z",
            }
        ]
    }


def post_webhook(
    gateway: "Gateway", body: dict, timeout_s: float = 10.0, tls: "ssl.SSLContext | None" = None
) -> int:
    """POSTs a webhook to the sandbox account, over HTTPS with `tls` when given; the HTTP status (raises
    OSError when there is no answer)."""
    scheme = "https" if tls is not None else "http"
    request = urllib.request.Request(
        f"{scheme}://127.0.0.1:{gateway.webhook_port}/webhooks/sandbox/{SANDBOX_WEBHOOK_SECRET}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=tls) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
