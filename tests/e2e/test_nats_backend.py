"""The nats backend (events.backend = nats) on a real nats-server: events live in JetStream, not in the
gateway's data directory, and /readyz names NATS while it is unreachable.

The test starts its own `nats-server -js` (Debian's package; scripts/test installs it) on a free port with a
temporary store. Without nats-server the tests are skipped, unless CI is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from harness import RPC_TIMEOUT_S, SANDBOX_WEBHOOK_ENV, free_port, http_get, inbound_message_webhook, post_webhook

READY_PATIENCE_S = 20.0


def nats_server_binary() -> str:
    """The nats-server to run (Debian installs it in /usr/sbin); skips the test without one, fails it under CI."""
    binary = shutil.which("nats-server") or next(
        (path for path in ["/usr/sbin/nats-server"] if os.access(path, os.X_OK)), None
    )
    if binary is None:
        assert not os.environ.get("CI"), "nats-server is not installed (scripts/test installs it) and CI is set"
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    return binary


class NatsServer:
    """A nats-server with JetStream on 127.0.0.1; `stop` kills it, `start` runs it again on the same port and store."""

    def __init__(self, binary: str, store: Path):
        self.binary = binary
        self.store = store
        self.port = free_port()
        self.log_path = store / "nats-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.write_text("")
        command = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.process = subprocess.Popen(command + ["-l", str(self.log_path)], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_PATIENCE_S
        while "Server is ready" not in self.log_path.read_text(errors="replace"):
            assert self.process.poll() is None, f"nats-server exited: {self.log_path.read_text()}"
            assert time.monotonic() < deadline, f"nats-server not ready: {self.log_path.read_text()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(nats_server_binary(), tmp_path / "nats-store")
    server.store.mkdir()
    server.start()
    yield server
    server.stop()


def nats_env(server: NatsServer) -> dict[str, str]:
    return {**SANDBOX_WEBHOOK_ENV, "WGW_EVENTS_BACKEND": "nats", "WGW_NATS_URL": server.url}


def first_events(pb, gateway, count: int) -> list:
    """The first `count` events of an `earliest` subscription."""
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stream = pb.stub("EventService", channel).Subscribe(
            pb.message("SubscribeRequest", {"earliest": True, "heartbeat_interval": "0.2s"}), timeout=RPC_TIMEOUT_S
        )
        events = []
        for response in stream:
            if response.WhichOneof("kind") == "event":
                events.append(response.event)
                if len(events) == count:
                    break
        stream.cancel()
        return events


def test_events_are_stored_in_jetstream_and_read_back_by_a_gateway_with_another_data_dir(start_gateway, pb, nats_server):
    first = start_gateway(env=nats_env(nats_server))
    assert post_webhook(first, inbound_message_webhook("nats-m-1", "first")) == 200
    assert post_webhook(first, inbound_message_webhook("nats-m-2", "second")) == 200
    # A repeated webhook (Wazzup retries) is stored once.
    assert post_webhook(first, inbound_message_webhook("nats-m-1", "first")) == 200
    first.stop()

    # A fresh data directory: whatever it reads back comes from NATS.
    second = start_gateway(env=nats_env(nats_server))
    assert second.data_dir != first.data_dir

    events = first_events(pb, second, 2)

    assert [(event.cursor, event.message.text) for event in events] == [(1, "first"), (2, "second")]
    assert "event log open on NATS JetStream" in second.log_text()


def test_readyz_names_nats_and_webhooks_get_503_while_it_is_unreachable_then_both_recover_without_a_restart(start_gateway, nats_server):
    gateway = start_gateway(env=nats_env(nats_server))

    nats_server.stop()
    status, body = wait_for_readyz(gateway, lambda status, _: status == 503)
    assert "NATS JetStream: cannot write: disconnected from the NATS servers" in body, body
    # Never a 200 without a JetStream acknowledgement.
    assert post_webhook(gateway, inbound_message_webhook("nats-while-down", "down"), timeout_s=30) == 503

    nats_server.start()
    status, body = wait_for_readyz(gateway, lambda status, _: status == 200)
    assert body.startswith("ready"), body
    assert post_webhook(gateway, inbound_message_webhook("nats-after-reconnect", "back")) == 200


def wait_for_readyz(gateway, done) -> tuple[int, str]:
    """Polls /readyz until `done(status, body)`; bounded patience (the client notices a lost server at once,
    and reconnects within its backoff)."""
    deadline = time.monotonic() + READY_PATIENCE_S
    while True:
        status, body = http_get(gateway.admin_url("/readyz"))
        if done(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.1)


def test_open_streams_end_with_unavailable_when_nats_is_lost_and_new_ones_are_refused_until_it_is_back(start_gateway, pb, nats_server):
    gateway = start_gateway(env=nats_env(nats_server))
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        events = pb.stub("EventService", channel)
        tail = events.Subscribe(pb.message("SubscribeRequest", {"heartbeat_interval": "0.2s"}), timeout=60)
        member = events.Subscribe(
            pb.message("SubscribeRequest", {"consumer": "lost", "heartbeat_interval": "0.2s"}), timeout=60
        )
        for stream in (tail, member):
            assert next(stream).WhichOneof("kind") == "heartbeat"

        nats_server.stop()

        for stream in (tail, member):
            with pytest.raises(grpc.RpcError) as ended:
                for _ in stream:
                    pass
            assert ended.value.code() == grpc.StatusCode.UNAVAILABLE, ended.value
        wait_for_readyz(gateway, lambda status, _: status == 503)
        with pytest.raises(grpc.RpcError) as refused:
            next(events.Subscribe(pb.message("SubscribeRequest", {}), timeout=RPC_TIMEOUT_S))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value

        nats_server.start()
        wait_for_readyz(gateway, lambda status, _: status == 200)
        again = events.Subscribe(pb.message("SubscribeRequest", {"heartbeat_interval": "0.2s"}), timeout=RPC_TIMEOUT_S)
        assert next(again).WhichOneof("kind") == "heartbeat"
        again.cancel()
