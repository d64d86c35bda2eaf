"""The nats backend on a three-node JetStream cluster (nats.replicas = 3): one server is SIGKILLed mid-ingest,
and still every webhook the gateway answered 200 is delivered, none twice.

The gateway gets all three servers in `nats.url`. Webhooks with distinct message ids are posted several at a
time; once a share of them got 200, the server that hurts most is killed: the one leading the events stream
(its replicas must elect a new leader) or the one holding the gateway's connection (the client must reconnect to
another). A post that does not get 200 is retried with the same body, as Wazzup does. Then an ephemeral
Subscribe from the start, and one that ran through the failure (resuming after its last cursor when its
stream ends with UNAVAILABLE), each read every webhook back exactly once; and the member of a named consumer
that acked every event as it came, through the failure, has them all acked and got none again after its ack.

Without nats-server the test is skipped, unless CI is set: then it fails.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import pytest

from harness import RPC_TIMEOUT_S, SANDBOX_WEBHOOK_ENV, http_get, inbound_message_webhook, post_webhook
from nats_cluster import NatsCluster, NatsNode
from test_nats_backend import nats_server_binary

STREAM = "WGW_EVENTS"
CLIENT_NAME = "wazzup-gateway"
WEBHOOKS = 300
IN_FLIGHT = 8
KILL_AFTER_OKS = 100
REQUEST_TIMEOUT_S = 10
# The gateway answers every post within its request timeout; the rest is room for a loaded machine.
POST_PATIENCE_S = REQUEST_TIMEOUT_S + 15
RETRY_PAUSE_S = 0.2
# For the whole ingest, failover included (JetStream 2.9 elects a new stream leader within seconds).
INGEST_PATIENCE_S = 180.0
READ_BACK_PATIENCE_S = 120.0


@pytest.fixture
def nats_cluster(tmp_path):
    cluster = NatsCluster(nats_server_binary(), tmp_path / "nats-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Ingest:
    """Posts webhooks, retrying each until it gets 200 or the ingest's time is up; counts what the gateway
    answered."""

    gateway: object
    deadline: float = field(default_factory=lambda: time.monotonic() + INGEST_PATIENCE_S)
    oks: int = 0
    answers: Counter = field(default_factory=Counter)
    client_timeouts: list = field(default_factory=list)
    reached_kill_point: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_until_ok(self, message_id: str) -> bool:
        """POSTs the webhook carrying `message_id` (the same body every time) until it gets 200."""
        body = inbound_message_webhook(message_id, f"text of {message_id}")
        while time.monotonic() < self.deadline:
            try:
                status = post_webhook(self.gateway, body, timeout_s=POST_PATIENCE_S)
            except TimeoutError:
                status = "client timeout"
                with self.lock:
                    self.client_timeouts.append(message_id)
            except OSError as error:
                status = type(error).__name__
            with self.lock:
                self.answers[status] += 1
                if status == 200:
                    self.oks += 1
                    if self.oks >= KILL_AFTER_OKS:
                        self.reached_kill_point.set()
            if status == 200:
                return True
            time.sleep(RETRY_PAUSE_S)
        return False


@dataclass
class Reader:
    """Ephemeral Subscribe streams of one client, counting deliveries by message id."""

    pb: object
    gateway: object
    deliveries: Counter = field(default_factory=Counter)
    last_cursor: int = 0

    def read(self, start: dict, done, timeout_s: float) -> None:
        """Reads one Subscribe stream from `start` until `done()` holds at a heartbeat that names no event
        beyond the last one received (so a duplicate stored after the awaited events is counted too)."""
        with grpc.insecure_channel(self.gateway.grpc_target) as channel:
            stream = self.pb.stub("EventService", channel).Subscribe(
                self.pb.message("SubscribeRequest", {**start, "heartbeat_interval": "0.2s"}), timeout=timeout_s
            )
            for response in stream:
                if response.WhichOneof("kind") == "event":
                    assert response.event.cursor > self.last_cursor, "cursors increase"
                    self.last_cursor = response.event.cursor
                    self.deliveries[response.event.message.message_id] += 1
                elif response.heartbeat.latest_cursor <= self.last_cursor and done():
                    break
            stream.cancel()


def read_back(pb, gateway, message_ids: set[str]) -> Counter:
    """How many times each message id is delivered by an ephemeral Subscribe from the earliest event, read
    until every id of `message_ids` arrived."""
    reader = Reader(pb, gateway)
    reader.read({"earliest": True}, lambda: message_ids <= reader.deliveries.keys(), READ_BACK_PATIENCE_S)
    return reader.deliveries


class LiveSubscriber(threading.Thread):
    """A client subscribed from the earliest event while webhooks arrive and a server dies: when its stream
    ends (`UNAVAILABLE` while the gateway cannot read the log), it subscribes again after the last cursor it
    received. It stops once it has every id of `expect(...)`."""

    def __init__(self, pb, gateway):
        super().__init__(daemon=True)
        self.reader = Reader(pb, gateway)
        self.ends: Counter = Counter()
        self.failure: AssertionError | None = None
        self.expected: set[str] | None = None
        self.deadline = time.monotonic() + INGEST_PATIENCE_S + READ_BACK_PATIENCE_S

    def expect(self, message_ids: set[str]) -> None:
        self.expected = message_ids

    def has_all(self) -> bool:
        return self.expected is not None and self.expected <= self.reader.deliveries.keys()

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            start = {"after_cursor": self.reader.last_cursor} if self.reader.last_cursor else {"earliest": True}
            try:
                self.reader.read(start, self.has_all, self.deadline - time.monotonic())
                return
            except AssertionError as failure:
                self.failure = failure
                return
            except grpc.RpcError as error:
                self.ends[error.code().name] += 1
                time.sleep(RETRY_PAUSE_S)


class AckingMember(threading.Thread):
    """The one member of a named consumer (explicit acks), subscribed before the ingest and acking every
    event as it arrives, through the server's death: when its stream ends it subscribes again (the consumer
    resumes after what was acked). An event delivered again after its `Ack` was answered is a violation;
    one delivered again while its ack was lost to the failover is not. It stops once every id of
    `expect(...)` is acked."""

    def __init__(self, pb, gateway):
        super().__init__(daemon=True)
        self.pb = pb
        self.gateway = gateway
        self.acked: set[str] = set()
        self.after_ack: list[str] = []
        self.ends: Counter = Counter()
        self.expected: set[str] | None = None
        self.deadline = time.monotonic() + INGEST_PATIENCE_S + READ_BACK_PATIENCE_S

    def expect(self, message_ids: set[str]) -> None:
        self.expected = message_ids

    def done(self) -> bool:
        return self.expected is not None and self.expected <= self.acked

    def run(self) -> None:
        request = self.pb.message("SubscribeRequest", {
            "consumer": "cluster-group", "earliest": True, "ack_mode": "ACK_MODE_EXPLICIT",
            "ack_wait": "30s", "heartbeat_interval": "0.2s",
        })
        while time.monotonic() < self.deadline and not self.done():
            try:
                with grpc.insecure_channel(self.gateway.grpc_target) as channel:
                    events = self.pb.stub("EventService", channel)
                    stream = events.Subscribe(request, timeout=self.deadline - time.monotonic())
                    for response in stream:
                        if response.WhichOneof("kind") == "event":
                            self.settle(events, response.event)
                        if self.done():
                            stream.cancel()
                            return
            except grpc.RpcError as error:
                self.ends[error.code().name] += 1
                time.sleep(RETRY_PAUSE_S)

    def settle(self, events, event) -> None:
        message_id = event.message.message_id
        if message_id in self.acked:
            self.after_ack.append(message_id)
            return
        try:
            events.Ack(self.pb.message("AckRequest", {"consumer": "cluster-group", "cursors": [event.cursor]}),
                       timeout=RPC_TIMEOUT_S)
        except grpc.RpcError:
            return  # not acked: it comes again
        self.acked.add(message_id)


def kill_victim(cluster: NatsCluster, victim: str) -> NatsNode:
    """Kills the node leading the events stream, or the one holding the gateway's connection."""
    if victim == "stream leader":
        node = cluster.wait_until(lambda: cluster.stream_leader(STREAM), f"leading stream {STREAM}")
    else:
        node = cluster.wait_until(lambda: cluster.connection_holder(CLIENT_NAME), "holding the gateway's connection")
    node.kill()
    return node


@pytest.mark.parametrize("victim", ["stream leader", "gateway's server"])
def test_every_webhook_answered_200_is_delivered_once_after_a_server_of_the_r3_cluster_is_killed_mid_ingest(
    start_gateway, pb, nats_cluster, victim
):
    gateway = start_gateway(env={
        **SANDBOX_WEBHOOK_ENV,
        "WGW_EVENTS_BACKEND": "nats",
        "WGW_NATS_URL": nats_cluster.urls,
        "WGW_NATS_REPLICAS": "3",
        "WGW_WEBHOOK_REQUEST_TIMEOUT": f"{REQUEST_TIMEOUT_S}s",
    })
    message_ids = [f"cluster-m-{number:04}" for number in range(WEBHOOKS)]
    ingest = Ingest(gateway)
    live = LiveSubscriber(pb, gateway)
    live.start()
    member = AckingMember(pb, gateway)
    member.start()

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        posted = pool.map(ingest.post_until_ok, message_ids)
        assert ingest.reached_kill_point.wait(INGEST_PATIENCE_S), f"no {KILL_AFTER_OKS} webhooks stored: {ingest.answers}"
        killed = kill_victim(nats_cluster, victim)
        oks_before_kill = ingest.oks
        all_ok = all(posted)

    assert oks_before_kill < WEBHOOKS, "the server was killed mid-ingest"
    assert all_ok, f"some webhooks never got 200: {ingest.answers}"
    assert not ingest.client_timeouts, f"the gateway did not answer within its request timeout: {ingest.client_timeouts}"
    status, body = http_get(gateway.admin_url("/readyz"))
    assert status == 200, body
    holder = nats_cluster.wait_until(lambda: nats_cluster.connection_holder(CLIENT_NAME), "holding the gateway's connection")
    assert holder is not killed, "the gateway is connected to a surviving server"

    live.expect(set(message_ids))
    member.expect(set(message_ids))
    deliveries = read_back(pb, gateway, set(message_ids))
    live.join(READ_BACK_PATIENCE_S)
    member.join(READ_BACK_PATIENCE_S)

    assert_each_delivered_once(deliveries, message_ids)
    assert live.failure is None, live.failure
    assert not live.is_alive(), f"the live subscriber still lacks {len(set(message_ids) - live.reader.deliveries.keys())}"
    assert_each_delivered_once(live.reader.deliveries, message_ids)
    assert set(live.ends) <= {"UNAVAILABLE"}, live.ends
    assert member.acked == set(message_ids), f"never acked: {sorted(set(message_ids) - member.acked)}"
    assert member.after_ack == [], f"delivered again after their ack: {member.after_ack}"
    assert set(member.ends) <= {"UNAVAILABLE"}, member.ends
    print(f"killed {killed.name} ({victim}) after {oks_before_kill} webhooks got 200; answers: {dict(ingest.answers)};"
          f" the live subscriber's streams ended {dict(live.ends)}, the group member's {dict(member.ends)}")


def assert_each_delivered_once(deliveries: Counter, message_ids: list[str]) -> None:
    assert set(deliveries) == set(message_ids), f"missing: {sorted(set(message_ids) - set(deliveries))}"
    assert {message_id: count for message_id, count in deliveries.items() if count != 1} == {}, "none twice"
