"""Fixtures: the built binary, stubs generated from proto/, and gateways started per test."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from harness import REPO_ROOT, Gateway, Protos

LOG_TAIL_LINES = 80

# grpcio, urllib and grpcurl honour *_proxy variables; the gateway is always local.
for _variable in ("no_proxy", "NO_PROXY"):
    os.environ[_variable] = ",".join(filter(None, [os.environ.get(_variable), "127.0.0.1", "localhost"]))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def gateway_binary() -> Path:
    binary = Path(os.environ.get("WGW_E2E_BINARY", REPO_ROOT / "target/debug/wazzup-gateway"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not os.access(binary, os.X_OK):
        pytest.fail(f"gateway binary {binary} is missing; build it with `cargo build --bin wazzup-gateway`")
    return binary


@pytest.fixture(scope="session")
def pb(tmp_path_factory) -> Protos:
    return Protos.generate(tmp_path_factory.mktemp("stubs"))


@pytest.fixture
def start_gateway(gateway_binary, tmp_path, request):
    """Factory: start_gateway(args=[...], env={...}) starts a gateway and waits for /readyz.

    At teardown every gateway still running gets SIGTERM and must exit with code 0 (a gateway the test
    killed with `Gateway.sigkill` is exempt).
    """
    started: list[Gateway] = []

    def start(
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        command_line: str | None = None,
    ) -> Gateway:
        """`data_dir` reuses another gateway's data directory (a restart); by default each gets its own.
        `command_line` runs a shell command (e.g. the README's `cargo run …`) instead of the binary."""
        workdir = tmp_path / f"gateway-{len(started)}"
        workdir.mkdir()
        gateway = Gateway(
            gateway_binary,
            workdir,
            args if args is not None else ["--sandbox"],
            env or {},
            data_dir=data_dir,
            command_line=command_line,
        )
        started.append(gateway)
        gateway.wait_ready()
        return gateway

    yield start

    exit_codes = [gateway.stop() for gateway in started]
    call_report = getattr(request.node, "report_call", None)
    if call_report is not None and call_report.failed:
        for gateway in started:
            tail = gateway.log_text().splitlines()[-LOG_TAIL_LINES:]
            print(f"--- last {len(tail)} lines of {gateway.log_path}:\n" + "\n".join(tail))
    for gateway, exit_code in zip(started, exit_codes):
        if gateway.killed:
            continue
        assert exit_code == 0, f"gateway exited with {exit_code} after SIGTERM; log:\n{gateway.log_text()}"


@pytest.fixture
def gateway(start_gateway) -> Gateway:
    """A sandbox gateway with default settings."""
    return start_gateway()


@pytest.fixture
def channel(gateway):
    with grpc.insecure_channel(gateway.grpc_target) as grpc_channel:
        yield grpc_channel
