"""One named consumer group across two gateway replicas on one nats-server (events.backend = nats): the
consumer is a JetStream durable consumer, so its members on both replicas share the events (each delivered
once), an Ack on one replica settles what the other delivered, and what a killed replica held unacked goes to
the member on the surviving replica once ack_wait passes.

The nats-server fixture is the one of test_nats_backend.py (skipped without nats-server unless CI is set).
"""

from __future__ import annotations

import queue
import threading
import time

import grpc

from harness import RPC_TIMEOUT_S, inbound_message_webhook, post_webhook
from test_nats_backend import nats_env, nats_server  # noqa: F401 (nats_server is a fixture)

GROUP = "replicated-group"
ACK_WAIT = "3s"
COLLECT_DEADLINE_S = 30.0


class Member:
    """A member of GROUP on one replica: reads its Subscribe stream on a thread into a queue."""

    def __init__(self, pb, gateway):
        self.channel = grpc.insecure_channel(gateway.grpc_target)
        request = pb.message(
            "SubscribeRequest",
            {
                "consumer": GROUP,
                "earliest": True,
                "ack_mode": "ACK_MODE_EXPLICIT",
                "max_in_flight": 100,
                "ack_wait": ACK_WAIT,
                "heartbeat_interval": "0.2s",
            },
        )
        self.stream = pb.stub("EventService", self.channel).Subscribe(request, timeout=120)
        # The first heartbeat: the member has joined (and the consumer exists).
        assert next(self.stream).WhichOneof("kind") == "heartbeat"
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.stream:
                if response.WhichOneof("kind") == "event":
                    event = response.event
                    self.events.put((event.message.text, event.cursor))
        except grpc.RpcError:
            pass  # cancelled, or the replica died

    def leave(self) -> None:
        self.stream.cancel()
        self.channel.close()


def collect(members: list[Member], count: int) -> list[tuple[str, int, Member]]:
    """The next `count` deliveries over `members`, in arrival order (bounded wait)."""
    deadline = time.monotonic() + COLLECT_DEADLINE_S
    got: list[tuple[str, int, Member]] = []
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} deliveries arrived: {got}"
        for member in members:
            try:
                text, cursor = member.events.get(timeout=0.05)
            except queue.Empty:
                continue
            got.append((text, cursor, member))
    return got


def ack(pb, gateway, cursors: list[int]) -> int:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        answer = pb.stub("EventService", channel).Ack(
            pb.message("AckRequest", {"consumer": GROUP, "cursors": cursors}), timeout=RPC_TIMEOUT_S
        )
        return answer.acked_cursor


def get_consumer(pb, gateway):
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        return pb.stub("EventService", channel).GetConsumer(
            pb.message("GetConsumerRequest", {"name": GROUP}), timeout=RPC_TIMEOUT_S
        ).consumer


def test_a_group_spans_replicas_and_the_survivor_gets_what_a_killed_replica_held(start_gateway, pb, nats_server):  # noqa: F811
    a = start_gateway(env=nats_env(nats_server))
    b = start_gateway(env=nats_env(nats_server))
    on_a, on_b = Member(pb, a), Member(pb, b)

    # Every event once over the two members, acked on the replica that did not deliver it.
    shared = [f"shared-{index:02d}" for index in range(30)]
    for index, text in enumerate(shared):
        assert post_webhook(a if index % 2 else b, inbound_message_webhook(f"g-{text}", text)) == 200
    deliveries = collect([on_a, on_b], len(shared))
    assert sorted(text for text, _, _ in deliveries) == shared, deliveries
    for text, cursor, member in deliveries:
        other = b if member is on_a else a
        ack(pb, other, [cursor])
    latest = max(cursor for _, cursor, _ in deliveries)
    settled = get_consumer(pb, a)
    assert (settled.acked_cursor, settled.pending, settled.lag) == (latest, 0, 0)

    # A alone holds the next events unacked, then dies without a word.
    on_b.leave()
    held = [f"held-{index:02d}" for index in range(10)]
    for text in held:
        assert post_webhook(b, inbound_message_webhook(f"g-{text}", text)) == 200
    held_by_a = collect([on_a], len(held))
    assert sorted(text for text, _, _ in held_by_a) == held
    assert all(text not in shared for text, _, _ in held_by_a), "an acked event came back"
    a.sigkill()

    # The member on B gets exactly what A held, once ack_wait has passed; nothing acked comes back.
    survivor = Member(pb, b)
    redelivered = collect([survivor], len(held))
    assert sorted(text for text, _, _ in redelivered) == held, redelivered
    ack(pb, b, [cursor for _, cursor, _ in redelivered])
    final = get_consumer(pb, b)
    assert (final.pending, final.lag) == (0, 0), final
    survivor.leave()
    on_a.leave()
