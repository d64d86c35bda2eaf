"""EventService from a Python grpcio client: a subscription sees what the sandbox reports."""

from harness import RPC_TIMEOUT_S, WHATSAPP_CHANNEL

STREAM_TIMEOUT_S = 15


def test_a_subscriber_receives_an_injected_customer_message(channel, pb):
    events = pb.stub("EventService", channel)
    sandbox = pb.stub("SandboxService", channel)
    stream = events.Subscribe(pb.message("SubscribeRequest", {"earliest": True}), timeout=STREAM_TIMEOUT_S)

    first = next(stream)
    sandbox.InjectIncomingMessage(
        pb.message(
            "InjectIncomingMessageRequest",
            {"channel_id": WHATSAPP_CHANNEL, "chat_id": "79011112233", "text": "Is my order ready?", "contact_name": "Ivan"},
        ),
        timeout=RPC_TIMEOUT_S,
    )
    event = next(response.event for response in stream if response.WhichOneof("kind") == "event")
    stream.cancel()

    assert first.WhichOneof("kind") == "heartbeat"
    assert event.type == pb.message("Event").DESCRIPTOR.fields_by_name["type"].enum_type.values_by_name["EVENT_TYPE_MESSAGE_RECEIVED"].number
    assert event.message.text == "Is my order ready?"
    assert event.message.chat_id == "79011112233"


def test_no_consumer_exists_until_a_named_subscription_creates_one(channel, pb):
    events = pb.stub("EventService", channel)

    listed = events.ListConsumers(pb.message("ListConsumersRequest"), timeout=RPC_TIMEOUT_S)

    assert list(listed.consumers) == []

