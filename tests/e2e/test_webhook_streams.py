"""Webhooks posted to the ingress reach live subscribers: grpcurl and a Python grpcio client."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid

import grpc

from harness import (
    SANDBOX_WEBHOOK_ENV,
    inbound_message_webhook,
    post_webhook,
    snake_case_keys,
)

GRPCURL_MAX_TIME_S = 20
WAIT_S = 15.0
WEBHOOKS = 5


def post_texts(gateway, texts: list[str], statuses: dict | None = None) -> None:
    """Posts one webhook per text; asserts each got 200, or records the statuses when given a dict."""
    for text in texts:
        status = post_webhook(gateway, inbound_message_webhook(str(uuid.uuid4()), text))
        if statuses is not None:
            statuses[text] = status
        else:
            assert status == 200, f"webhook {text!r} answered {status}"


def json_objects(output: str) -> list[dict]:
    """The complete JSON documents grpcurl printed one after another for a stream.

    A trailing document still being printed is left out; anything else that is not JSON fails.
    """
    decoder = json.JSONDecoder()
    objects, position = [], 0
    while True:
        while position < len(output) and output[position].isspace():
            position += 1
        if position >= len(output):
            return objects
        try:
            value, position = decoder.raw_decode(output, position)
        except json.JSONDecodeError:
            assert output[position] == "{", f"grpcurl printed something that is not JSON:\n{output[position:]}"
            return objects
        objects.append(snake_case_keys(value))


def event_texts(documents: list[dict]) -> list[str]:
    return [document["event"]["message"]["text"] for document in documents if "event" in document]


def test_grpcurl_subscription_sees_webhooks_posted_while_it_runs(start_gateway):
    gateway = start_gateway(env=SANDBOX_WEBHOOK_ENV)
    command = [
        "grpcurl", "-plaintext", "-max-time", str(GRPCURL_MAX_TIME_S),
        "-d", json.dumps({"earliest": True}),
        gateway.grpc_target, "wazzup_gateway.v1.EventService/Subscribe",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def read_stdout() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read_stdout, daemon=True).start()
    output = ""
    texts = [f"grpcurl-{index}-{uuid.uuid4().hex[:8]}" for index in range(WEBHOOKS)]
    try:
        deadline = time.monotonic() + WAIT_S
        posted = False
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            output += line
            if not posted and '"heartbeat"' in output:
                # The subscription is live (its first message is a heartbeat): post now.
                post_texts(gateway, texts)
                posted = True
            if posted and len(event_texts(json_objects(output))) >= len(texts):
                break
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)

    assert posted, f"grpcurl never printed the first heartbeat:\n{output}\n{stderr}"
    documents = json_objects(output)
    received = event_texts(documents)
    assert received == texts, f"grpcurl output:\n{output}\n{stderr}"
    for doc in documents:
        if "event" in doc:
            assert doc["event"]["type"] == "EVENT_TYPE_MESSAGE_RECEIVED"
            assert doc["event"]["message"]["chat_id"] == "79999999999"


def test_python_subscription_sees_webhooks_posted_while_it_runs(start_gateway, pb):
    gateway = start_gateway(env=SANDBOX_WEBHOOK_ENV)
    texts = [f"python-{index}-{uuid.uuid4().hex[:8]}" for index in range(WEBHOOKS)]
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        events = pb.stub("EventService", channel)
        stream = events.Subscribe(pb.message("SubscribeRequest", {"earliest": True}), timeout=WAIT_S)
        assert next(stream).WhichOneof("kind") == "heartbeat"

        statuses: dict[str, int] = {}
        poster = threading.Thread(target=post_texts, args=(gateway, texts, statuses), daemon=True)
        poster.start()
        received = []
        for response in stream:  # bounded by the call's timeout
            if response.WhichOneof("kind") == "event":
                received.append(response.event)
                if len(received) == len(texts):
                    break
        stream.cancel()
        poster.join(timeout=WAIT_S)

    assert statuses == {text: 200 for text in texts}
    message_received = pb.message("Event").DESCRIPTOR.fields_by_name["type"].enum_type.values_by_name[
        "EVENT_TYPE_MESSAGE_RECEIVED"
    ].number
    assert [event.message.text for event in received] == texts
    assert all(event.type == message_received for event in received)
    assert len({event.id for event in received}) == len(texts)
