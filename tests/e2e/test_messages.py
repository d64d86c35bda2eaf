"""MessageService in the sandbox: sends, edits, deletes, and the error shapes clients decode."""

import json
import uuid

import grpc
import pytest

from harness import (
    PACKAGE,
    QR_CHANNEL,
    RPC_TIMEOUT_S,
    grpcurl,
    grpcurl_ok_json,
    parse_grpcurl_error,
    rpc_error_details,
    send_request,
)

TOO_LONG_TEXT = "x" * 10_001
INVALID_SEND = send_request(chat_id="not-a-phone", text=TOO_LONG_TEXT)
SEND_MESSAGE = f"{PACKAGE}.MessageService/SendMessage"


def assert_is_uuid(value: str) -> None:
    assert str(uuid.UUID(value)) == value.lower(), f"not a UUID: {value!r}"


def test_grpcurl_send_message_returns_a_message_id_and_the_chat_id(gateway):
    answer = grpcurl_ok_json(gateway.grpc_target, SEND_MESSAGE, send_request())

    assert_is_uuid(answer["message_id"])
    assert answer["chat_id"] == "79991112233"


def test_edit_then_delete_of_a_sent_message_echo_its_ids(channel, pb):
    stub = pb.stub("MessageService", channel)
    sent = stub.SendMessage(pb.message("SendMessageRequest", send_request()), timeout=RPC_TIMEOUT_S)
    assert_is_uuid(sent.message_id)

    edited = stub.EditMessage(
        pb.message("EditMessageRequest", {"message_id": sent.message_id, "text": "hello again"}),
        timeout=RPC_TIMEOUT_S,
    )
    deleted = stub.DeleteMessage(
        pb.message("DeleteMessageRequest", {"message_id": sent.message_id}), timeout=RPC_TIMEOUT_S
    )

    assert (edited.message_id, edited.chat_id) == (sent.message_id, "79991112233")
    assert (deleted.message_id, deleted.chat_id) == (sent.message_id, "79991112233")


@pytest.mark.parametrize(
    ("rpc", "request_type", "fields"),
    [
        ("EditMessage", "EditMessageRequest", {"text": "edited"}),
        ("DeleteMessage", "DeleteMessageRequest", {}),
    ],
    ids=["edit", "delete"],
)
def test_edit_or_delete_of_an_unknown_message_is_not_found(channel, pb, rpc, request_type, fields):
    stub = pb.stub("MessageService", channel)
    request = pb.message(request_type, {"message_id": str(uuid.uuid4()), **fields})

    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub, rpc)(request, timeout=RPC_TIMEOUT_S)

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND, raised.value.details()


def test_grpcurl_prints_invalid_argument_with_error_info_and_field_violations(gateway):
    result = grpcurl(gateway.grpc_target, SEND_MESSAGE, data=INVALID_SEND)

    assert result.returncode != 0
    error = parse_grpcurl_error(result.stdout + result.stderr)
    assert error.code == "InvalidArgument"
    error_infos = [d for d in error.details if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    bad_requests = [d for d in error.details if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    assert len(error_infos) == 1, json.dumps(error.details, indent=2)
    assert error_infos[0]["reason"] == "INVALID_REQUEST"
    assert error_infos[0]["domain"] == "wazzup-gateway"
    assert len(bad_requests) == 1, json.dumps(error.details, indent=2)
    fields = {violation["field"] for violation in bad_requests[0]["field_violations"]}
    assert {"recipient.chat_id", "text"} <= fields


def test_grpcio_client_decodes_invalid_argument_details(channel, pb):
    stub = pb.stub("MessageService", channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.SendMessage(pb.message("SendMessageRequest", INVALID_SEND), timeout=RPC_TIMEOUT_S)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = rpc_error_details(raised.value)
    assert len(details.get("google.rpc.ErrorInfo", [])) == 1, details
    error_info = details["google.rpc.ErrorInfo"][0]
    assert (error_info.reason, error_info.domain) == ("INVALID_REQUEST", "wazzup-gateway")
    assert len(details.get("google.rpc.BadRequest", [])) == 1, details
    fields = {violation.field for violation in details["google.rpc.BadRequest"][0].field_violations}
    assert {"recipient.chat_id", "text"} <= fields


def test_send_from_a_channel_waiting_for_qr_is_failed_precondition(channel, pb):
    stub = pb.stub("MessageService", channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.SendMessage(pb.message("SendMessageRequest", send_request(channel_id=QR_CHANNEL)), timeout=RPC_TIMEOUT_S)

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION, raised.value.details()
    reasons = [info.reason for info in rpc_error_details(raised.value).get("google.rpc.ErrorInfo", [])]
    assert reasons == ["CHANNEL_NOT_ACTIVE"]

