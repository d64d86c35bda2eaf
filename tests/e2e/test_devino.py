"""The built binary with a Devino account against a local mock of `POST /whatsapp/messages`, driven
with grpcurl (reflection only) and the Python grpcio client: the sender names as channels, a send
and a native batch with one rejected item reaching the mock with the exact JSON, then the status
callback Devino would post to the send's `callbackUrl` arriving on a Subscribe stream with the
send's `callback_data`.
"""

from __future__ import annotations

import json
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2

from upstream_mock import MockedGateway, RecordingUpstream, free_port, json_answer

API_KEY = "e2e-devino-key-QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
SECRET = "e2e-devino-webhook-secret-7a1c"
SENDER = "MyCompany"
SENT_ID = "3482512350952730368"
WAIT_S = 20


class DevinoAnswers:
    """Answers sends in order: the first with one OK, the next (a batch) with OK then REJECTED."""

    def __init__(self) -> None:
        self.sends = 0

    def __call__(self, method: str, path: str):
        if (method, path) != ("POST", "/whatsapp/messages"):
            return json_answer(404, {})
        self.sends += 1
        if self.sends == 1:
            return json_answer(200, {"result": [{"code": "OK", "messageId": SENT_ID}]})
        return json_answer(200, {"result": [
            {"code": "OK", "messageId": "3482512350952730369"},
            {"code": "REJECTED", "reasons": [{"key": "invalid", "ref": "messages[1].to"}],
             "description": "Wrong phone number is provided"},
        ]})


@pytest.fixture
def mock():
    with RecordingUpstream(DevinoAnswers()) as running:
        yield running


@pytest.fixture
def devino_gateway(mock, tmp_path):
    webhook_port = free_port()
    env = {
        "WGW_ACCOUNT_ACME_DEVINO_SENDERS": SENDER,
        "WGW_ACCOUNT_ACME_WEBHOOK_SECRET": SECRET,
        "WGW_PUBLIC_WEBHOOK_BASE_URL": f"http://127.0.0.1:{webhook_port}",
    }
    gateway = MockedGateway(tmp_path, "devino", mock.base_url, API_KEY, env, webhook_port=webhook_port)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        exit_code = gateway.stop()
        log = gateway.log()
        assert API_KEY not in log and SECRET not in log, "secrets must never reach the logs"
        assert exit_code == 0, f"gateway exited with {exit_code} after SIGTERM; log:\n{log}"


def post_callback(url: str, body: object) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_channels_send_batch_and_status_callback_end_to_end(devino_gateway, mock, pb):
    # ListChannels with grpcurl: the sender name is the account's WABA channel.
    (channel,) = devino_gateway.grpcurl("ChannelService/ListChannels", {})["channels"]
    assert channel["plainId"] == SENDER
    assert channel["provider"] == "devino"
    assert channel["transport"] == "TRANSPORT_WABA"
    assert channel["state"] == "CHANNEL_STATE_ACTIVE"
    channel_id = channel["channelId"]

    # SendMessage with grpcurl, carrying callback data.
    sent = devino_gateway.grpcurl("MessageService/SendMessage", {
        "channel_id": channel_id,
        "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79034567890"},
        "text": "Code: 1234",
        "notify": {"callback_data": "order-1"},
    })
    assert sent["messageId"] == SENT_ID
    callback_url = f"http://127.0.0.1:{devino_gateway.webhook_port}/webhooks/acme/{SECRET}"
    first = mock.requests[0]
    assert first["authorization"] == f"Key {API_KEY}"
    assert first["body"] == {"messages": [{
        "from": SENDER, "to": "79034567890", "text": "Code: 1234",
        "callbackUrl": callback_url, "callbackData": "order-1",
    }]}

    with grpc.insecure_channel(devino_gateway.grpc) as grpc_channel:
        # BatchSendMessages with the Python client: one request upstream, the second item rejected.
        messages = pb.stub("MessageService", grpc_channel)
        item = lambda to: {  # noqa: E731
            "channel_id": channel_id,
            "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": to},
            "text": "Your order shipped",
        }
        batch = messages.BatchSendMessages(
            pb.message("BatchSendMessagesRequest", {"requests": [item("79034567891"), item("79034567892")]}),
            timeout=WAIT_S,
        )
        ok, rejected = batch.results
        assert ok.response.message_id == "3482512350952730369"
        assert rejected.WhichOneof("result") == "error"
        assert rejected.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        unpacked = {detail.type_url.rsplit("/", 1)[-1]: detail for detail in rejected.error.details}
        assert unpacked["google.rpc.ErrorInfo"].Unpack(info)
        assert unpacked["google.rpc.BadRequest"].Unpack(bad_request)
        assert (info.reason, info.domain) == ("invalid", "api.devino.online")
        assert [violation.field for violation in bad_request.field_violations] == [
            "requests[1].recipient.chat_id"
        ]
        assert len(mock.requests) == 2
        assert [message["to"] for message in mock.requests[1]["body"]["messages"]] == [
            "79034567891", "79034567892"
        ]

        # The status callback Devino posts to the callbackUrl arrives on a Subscribe stream.
        events = pb.stub("EventService", grpc_channel)
        stream = events.Subscribe(pb.message("SubscribeRequest", {"earliest": True}), timeout=WAIT_S)
        assert post_callback(callback_url, [{
            "messageId": int(SENT_ID), "ts": 1746540000, "status": "DELIVERED", "options": "order-1",
        }]) == 200
        status = None
        for response in stream:  # bounded by the call's timeout
            if response.WhichOneof("kind") == "event":
                status = response.event
                break
        stream.cancel()
    assert status is not None
    assert status.dialect == "devino"
    assert status.status.message_id == SENT_ID
    assert status.status.callback_data == "order-1"
    delivered = pb.message("MessageStatusEvent").DESCRIPTOR.fields_by_name["status"].enum_type
    assert status.status.status == delivered.values_by_name["MESSAGE_STATUS_DELIVERED"].number

