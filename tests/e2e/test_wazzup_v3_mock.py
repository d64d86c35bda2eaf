"""The built binary against a local mock of the Wazzup v3 API, driven with grpcurl (reflection only).

The mock (`upstream_mock.RecordingUpstream`) records every request and answers like the documented
v3 API.
"""

from __future__ import annotations

import pytest

from harness import parse_grpcurl_error
from upstream_mock import RecordingUpstream, json_answer, running_gateway

API_KEY = "e2e-key-c8cf90444023482f909520d454368d27"
WHATSAPP = "e0629e11-0f67-4567-92a9-2237e91ec1b9"
TELEGRAM_BOT = "d9e5721c-ce2b-444f-9627-60a8129d7e1f"
SENT_ID = "f66c53a6-957a-46b2-b41b-5a2ef4844bcb"
MISSING_ID = "0b7c2a52-7d0e-4d8e-9a55-3c3d2b1a0f00"

CHANNELS = [
    {"channelId": WHATSAPP, "transport": "whatsapp", "plainId": "79865784457", "state": "active"},
    {"channelId": TELEGRAM_BOT, "transport": "telegram", "plainId": "acme_bot", "state": "active", "tier": "x"},
]


def answer_like_v3(method: str, path: str):
    if (method, path) == ("GET", "/v3/channels"):
        return json_answer(200, CHANNELS)
    if (method, path) == ("POST", "/v3/message"):
        return json_answer(201, {"messageId": SENT_ID, "chatId": "79011112233"})
    if path == f"/v3/message/{MISSING_ID}":
        return json_answer(404, {"status": 404, "requestId": "r-404", "error": "MESSAGES_NOT_FOUND",
                                 "description": "Message not found"})
    if path.startswith("/v3/message/") and method in ("PATCH", "DELETE"):
        return json_answer(200, {})
    return json_answer(404, {"error": "NOT_FOUND", "description": "unknown route"})


@pytest.fixture
def mock():
    with RecordingUpstream(answer_like_v3) as running:
        yield running


@pytest.fixture
def v3_gateway(mock, tmp_path):
    yield from running_gateway(tmp_path, "wazzup_v3", mock.base_url, API_KEY)


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


def detail(error, type_name: str) -> dict:
    (found,) = [d for d in error.details if d["@type"] == f"type.googleapis.com/google.rpc.{type_name}"]
    return found


def test_grpcurl_edits_and_sends_are_checked_as_v3_can_carry_them_and_errors_read_one_way(v3_gateway, mock):
    too_long = parse_grpcurl_error(v3_gateway.grpcurl_failure("MessageService/EditMessage", {
        "message_id": SENT_ID, "channel_id": TELEGRAM_BOT, "text": "x" * 4097,
    }))
    named_file = parse_grpcurl_error(v3_gateway.grpcurl_failure("MessageService/SendMessage", {
        "channel_id": WHATSAPP,
        "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
        "attachment": {"url": "https://files.example.com/a.pdf", "name": "a.pdf", "size_bytes": 2048},
    }))
    missing = parse_grpcurl_error(v3_gateway.grpcurl_failure("MessageService/DeleteMessage", {
        "message_id": MISSING_ID,
    }))

    assert too_long.code == "InvalidArgument", too_long
    assert [v["field"] for v in detail(too_long, "BadRequest")["field_violations"]] == ["text"]
    assert "4096" in detail(too_long, "BadRequest")["field_violations"][0]["description"]
    assert named_file.code == "InvalidArgument", named_file
    assert [v["field"] for v in detail(named_file, "BadRequest")["field_violations"]] == ["attachment.name"]
    assert missing.code == "NotFound", missing
    info = detail(missing, "ErrorInfo")
    assert (info["reason"], info["domain"]) == ("MESSAGE_NOT_FOUND", "wazzup-gateway")
    metadata = info["metadata"]
    assert metadata.get("messageId", metadata.get("message_id")) == MISSING_ID, metadata
    assert not mock.of("PATCH", f"/v3/message/{SENT_ID}"), "the over-long edit was not sent"
    assert not mock.of("POST", "/v3/message"), "the send with a file name was not sent"
    assert len(mock.of("DELETE", f"/v3/message/{MISSING_ID}")) == 1
