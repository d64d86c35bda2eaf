"""Crash test: webhooks that got a 200 survive SIGKILL, and acked events stay acked across restarts."""

from __future__ import annotations

import queue
import threading
import time
import uuid

import grpc

from harness import (
    RPC_TIMEOUT_S,
    SANDBOX_WEBHOOK_ENV,
    inbound_message_webhook,
    post_webhook,
)

WEBHOOKS = 300
POSTER_THREADS = 6
KILL_AFTER_OKS = 100
CONSUMER = "crash-test"
KILL_DEADLINE_S = 20.0
POST_TIMEOUT_S = 5.0
COLLECT_DEADLINE_S = 20.0
QUIET_S = 1.0


def durable_request(pb) -> object:
    return pb.message(
        "SubscribeRequest",
        {
            "consumer": CONSUMER,
            "earliest": True,
            "ack_mode": "ACK_MODE_EXPLICIT",
            "max_in_flight": 1000,
            # Longer than the test: nothing is redelivered for an ack_wait expiry while it runs.
            "ack_wait": "60s",
            "heartbeat_interval": "0.2s",
        },
    )


class StreamReader:
    """Reads a Subscribe stream on a thread, so the test can wait on it with a bounded timeout."""

    def __init__(self, stream):
        self.stream = stream
        self.items: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for response in self.stream:
                self.items.put(("response", response))
        except grpc.RpcError as error:
            self.items.put(("error", error))
        self.items.put(("end", None))

    def next(self, timeout_s: float):
        try:
            return self.items.get(timeout=timeout_s)
        except queue.Empty:
            return ("timeout", None)


def collect_until_quiet(reader: StreamReader, expected: set[str]) -> list:
    """Events until every text in `expected` was seen and then QUIET_S passed without another event.

    Bounded by COLLECT_DEADLINE_S; if the expected texts never all arrive, it returns what came after
    a quiet period so the caller's assertion names what is missing.
    """
    events = []
    seen: set[str] = set()
    deadline = time.monotonic() + COLLECT_DEADLINE_S
    last_event = time.monotonic()
    while time.monotonic() < deadline:
        kind, item = reader.next(timeout_s=max(0.0, min(QUIET_S, deadline - time.monotonic())))
        if kind == "response" and item.WhichOneof("kind") == "event":
            events.append(item.event)
            seen.add(item.event.message.text)
            last_event = time.monotonic()
            continue
        if kind in ("error", "end"):
            raise AssertionError(f"stream ended while collecting: {kind} {item}")
        quiet_for = time.monotonic() - last_event
        if quiet_for >= QUIET_S and (expected <= seen or quiet_for >= 3 * QUIET_S):
            return events
    return events


def diagnose(pb, channel, lost: list[str], ack_trail, delivered) -> str:
    """Where the lost events are: in the log (with cursors) or not, against the consumer's progress."""
    events = pb.stub("EventService", channel)
    stream = events.Subscribe(
        pb.message("SubscribeRequest", {"earliest": True, "heartbeat_interval": "0.2s"}), timeout=COLLECT_DEADLINE_S
    )
    in_log = {event.message.text: event.cursor for event in collect_until_quiet(StreamReader(stream), set())}
    stream.cancel()
    consumer = events.GetConsumer(pb.message("GetConsumerRequest", {"name": CONSUMER}), timeout=RPC_TIMEOUT_S)
    return (
        f"in the log after restart: { {text: in_log.get(text) for text in lost} };"
        f" acks before the crash (text, cursor, acked_cursor): {ack_trail};"
        f" first cursors delivered after restart: {sorted(event.cursor for event in delivered)[:5]};"
        f" consumer now: {consumer.consumer}"
    )


def test_every_acknowledged_webhook_survives_sigkill_and_no_acked_event_comes_back(start_gateway, pb):
    first = start_gateway(env=SANDBOX_WEBHOOK_ENV)
    data_dir = first.data_dir

    # A durable consumer acks events while the webhooks arrive; its acks that returned must survive.
    acked_before_crash: set[str] = set()  # texts whose Ack call returned before the crash
    ack_in_flight: set[str] = set()  # texts whose Ack call got no answer before the crash
    ack_trail: list[tuple[str, int, int]] = []  # (text, cursor, acked_cursor answered)
    first_channel = grpc.insecure_channel(first.grpc_target)
    events = pb.stub("EventService", first_channel)
    stream = events.Subscribe(durable_request(pb), timeout=KILL_DEADLINE_S + 10)
    first_response = next(stream)
    assert first_response.WhichOneof("kind") == "heartbeat"

    def ack_while_reading() -> None:
        try:
            for response in stream:
                if response.WhichOneof("kind") != "event":
                    continue
                # Like a webhook's 200, an Ack's answer can be lost to the crash after the ack was
                # committed: the event whose Ack was in flight may or may not come back.
                ack_in_flight.add(response.event.message.text)
                answer = events.Ack(
                    pb.message("AckRequest", {"consumer": CONSUMER, "cursors": [response.event.cursor]}),
                    timeout=RPC_TIMEOUT_S,
                )
                acked_before_crash.add(response.event.message.text)
                ack_in_flight.discard(response.event.message.text)
                ack_trail.append((response.event.message.text, response.event.cursor, answer.acked_cursor))
        except grpc.RpcError:
            pass  # the gateway died under us

    acker = threading.Thread(target=ack_while_reading, daemon=True)
    acker.start()

    texts = [f"crash-{index:03d}" for index in range(WEBHOOKS)]
    message_ids = {text: str(uuid.uuid4()) for text in texts}
    outcomes: dict[str, object] = {}  # text -> HTTP status, or the exception when there was no answer
    lock = threading.Lock()
    ok_count = [0]

    def post_share(share: list[str]) -> None:
        for text in share:
            try:
                outcome: object = post_webhook(
                    first, inbound_message_webhook(message_ids[text], text), timeout_s=POST_TIMEOUT_S
                )
            except OSError as error:
                outcome = error
            with lock:
                outcomes[text] = outcome
                if outcome == 200:
                    ok_count[0] += 1

    posters = [
        threading.Thread(target=post_share, args=(texts[index::POSTER_THREADS],), daemon=True)
        for index in range(POSTER_THREADS)
    ]
    for poster in posters:
        poster.start()

    deadline = time.monotonic() + KILL_DEADLINE_S
    while ok_count[0] < KILL_AFTER_OKS and time.monotonic() < deadline:
        time.sleep(0.002)
    assert ok_count[0] >= KILL_AFTER_OKS, f"only {ok_count[0]} webhooks got 200 within {KILL_DEADLINE_S} s"
    first.sigkill()

    for poster in posters:
        poster.join(timeout=POST_TIMEOUT_S + 5)
        assert not poster.is_alive(), "a poster thread is still running after the gateway was killed"
    acker.join(timeout=RPC_TIMEOUT_S + 5)
    assert not acker.is_alive()
    stream.cancel()
    first_channel.close()

    got_200 = {text for text, outcome in outcomes.items() if outcome == 200}
    other_statuses = {text: outcome for text, outcome in outcomes.items() if isinstance(outcome, int) and outcome != 200}
    assert not other_statuses, f"webhooks answered with something other than 200: {other_statuses}"
    assert len(outcomes) == WEBHOOKS
    assert len(got_200) < WEBHOOKS, "every webhook finished before the kill; the crash was not mid-stream"
    assert acked_before_crash <= set(texts)
    assert len(ack_in_flight) <= 1, ack_in_flight

    # Restart on the same data directory; the consumer resumes after its acked cursor.
    second = start_gateway(env=SANDBOX_WEBHOOK_ENV, data_dir=data_dir)
    with grpc.insecure_channel(second.grpc_target) as second_channel:
        events = pb.stub("EventService", second_channel)
        stream = events.Subscribe(durable_request(pb), timeout=COLLECT_DEADLINE_S + 10)
        reader = StreamReader(stream)
        delivered = collect_until_quiet(reader, got_200 - acked_before_crash)
        delivered_texts = {event.message.text for event in delivered}

        redelivered_after_ack = sorted(delivered_texts & acked_before_crash)
        assert not redelivered_after_ack, (
            f"{len(redelivered_after_ack)} events acked before the crash were delivered again: {redelivered_after_ack[:10]}"
        )
        lost = sorted(got_200 - acked_before_crash - ack_in_flight - delivered_texts)
        assert not lost, (
            f"{len(lost)} of {len(got_200)} webhooks that got 200 were never delivered: {lost[:10]};"
            f" ack in flight at the crash: {ack_in_flight}; {diagnose(pb, second_channel, lost, ack_trail, delivered)}"
        )
        unexpected = sorted(delivered_texts - set(texts))
        assert not unexpected, f"events nobody posted: {unexpected[:10]}"

        if delivered:
            acked = events.Ack(
                pb.message("AckRequest", {"consumer": CONSUMER, "cursors": [event.cursor for event in delivered]}),
                timeout=RPC_TIMEOUT_S,
            )
            assert acked.acked_cursor == max(event.cursor for event in delivered)
        stream.cancel()
    second.sigkill()

    # A further restart: everything was acked, so the consumer gets nothing.
    third = start_gateway(env=SANDBOX_WEBHOOK_ENV, data_dir=data_dir)
    with grpc.insecure_channel(third.grpc_target) as third_channel:
        events = pb.stub("EventService", third_channel)
        stream = events.Subscribe(durable_request(pb), timeout=COLLECT_DEADLINE_S + 10)
        reader = StreamReader(stream)
        again = collect_until_quiet(reader, set())
        stream.cancel()
        assert [event.message.text for event in again] == [], "acked events were delivered again after a restart"
        consumer = events.GetConsumer(
            pb.message("GetConsumerRequest", {"name": CONSUMER}), timeout=RPC_TIMEOUT_S
        ).consumer
        assert consumer.lag == 0 and consumer.pending == 0, consumer
