"""OpenTelemetry end to end: the built binary exports its spans over OTLP (gRPC and HTTP/protobuf)
to a real receiver, continuing the caller's W3C trace context through to the upstream request, and
following one webhook from its receipt through its durable append to its delivery on a stream."""

from __future__ import annotations

import uuid

import grpc
import pytest

from harness import SANDBOX_WEBHOOK_ENV, SANDBOX_WEBHOOK_SECRET, inbound_message_webhook, post_webhook
from otlp_receiver import OtlpReceiver
from test_wazzup_v3_mock import API_KEY, WHATSAPP, answer_like_v3
from upstream_mock import RecordingUpstream, running_gateway

CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_one_trace_runs_from_the_caller_through_the_rpc_to_the_upstream_request(tmp_path, protocol):
    with OtlpReceiver(protocol) as receiver, RecordingUpstream(answer_like_v3) as upstream:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_SERVICE_NAME": "gateway-under-test",
        }
        for gateway in running_gateway(tmp_path, "wazzup_v3", upstream.base_url, API_KEY, otel):
            gateway.grpcurl(
                "MessageService/SendMessage",
                {"channel_id": WHATSAPP, "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
                 "text": "traced"},
                headers=(f"traceparent: {TRACEPARENT}", "tracestate: vendor=opaque"),
            )
            # The last spans leave on shutdown: stop first, then read what the receiver holds.
            assert gateway.stop() == 0, gateway.log()

        (rpc,) = [span for span in receiver.named("wazzup_gateway.v1.MessageService/SendMessage")]
        assert rpc["trace_id"] == CALLER_TRACE_ID
        assert rpc["parent_span_id"] == CALLER_SPAN_ID
        assert rpc["kind"] == "SPAN_KIND_SERVER"
        assert rpc["attributes"]["rpc.system"] == "grpc"
        assert rpc["attributes"]["rpc.service"] == "wazzup_gateway.v1.MessageService"
        assert rpc["attributes"]["rpc.method"] == "SendMessage"
        assert rpc["attributes"]["rpc.grpc.status_code"] == 0
        assert rpc["resource"]["service.name"] == "gateway-under-test"

        (attempt,) = receiver.named("POST /v3/message")
        assert attempt["trace_id"] == CALLER_TRACE_ID
        assert attempt["kind"] == "SPAN_KIND_CLIENT"
        assert attempt["attributes"]["url.template"] == "/v3/message"
        assert attempt["attributes"]["http.request.method"] == "POST"
        assert attempt["attributes"]["http.response.status_code"] == 201
        assert attempt["attributes"]["http.request.resend_count"] == 0
        assert _is_descendant(receiver, attempt, of=rpc)

        (sent,) = upstream.of("POST", "/v3/message")
        version, trace_id, parent_id, flags = sent["traceparent"].split("-")
        assert (version, trace_id, parent_id, flags) == ("00", CALLER_TRACE_ID, attempt["span_id"], "01")

        exported = [span for span in receiver.spans if API_KEY in repr(span)]
        assert exported == [], "no span may carry the account's API key"


def test_an_upstream_error_marks_the_attempt_span_failed_and_the_rpc_span_by_its_code(tmp_path):
    def failing(method: str, path: str):
        if (method, path) == ("GET", "/v3/channels"):
            return 503, {"error": "UNAVAILABLE", "description": "maintenance"}, "application/json"
        return answer_like_v3(method, path)

    with OtlpReceiver("grpc") as receiver, RecordingUpstream(failing) as upstream:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        for gateway in running_gateway(tmp_path, "wazzup_v3", upstream.base_url, API_KEY, otel):
            messages = gateway.grpcurl_failure("ChannelService/ListChannels", {})
            assert "Unavailable" in messages
            assert gateway.stop() == 0, gateway.log()

    (rpc,) = receiver.named("wazzup_gateway.v1.ChannelService/ListChannels")
    assert rpc["attributes"]["rpc.grpc.status_code"] == 14
    assert rpc["status"] == "STATUS_CODE_ERROR"
    attempts = receiver.named("GET /v3/channels")
    assert attempts, "each upstream attempt has its span"
    assert [span["attributes"]["http.request.resend_count"] for span in attempts] == list(range(len(attempts)))
    for span in attempts:
        assert span["attributes"]["http.response.status_code"] == 503
        assert span["status"] == "STATUS_CODE_ERROR"
        assert span["trace_id"] == rpc["trace_id"]
    assert rpc["resource"]["service.name"] == "wazzup-gateway"


def test_a_webhook_is_traced_from_its_receipt_through_the_append_to_its_delivery(start_gateway, pb):
    with OtlpReceiver("grpc") as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        gateway = start_gateway(env={**SANDBOX_WEBHOOK_ENV, **otel})
        with grpc.insecure_channel(gateway.grpc_target) as channel:
            events = pb.stub("EventService", channel)
            stream = events.Subscribe(pb.message("SubscribeRequest", {}), timeout=15.0)
            assert next(stream).WhichOneof("kind") == "heartbeat"
            assert post_webhook(gateway, inbound_message_webhook(str(uuid.uuid4()), "traced webhook")) == 200
            delivered = next(response.event for response in stream if response.WhichOneof("kind") == "event")
            stream.cancel()
        # The last spans leave on shutdown: stop first, then read what the receiver holds.
        assert gateway.stop() == 0

    (receipt,) = receiver.named("POST /webhooks/{account}/{secret}")
    assert receipt["kind"] == "SPAN_KIND_SERVER"
    assert receipt["attributes"]["http.request.method"] == "POST"
    assert receipt["attributes"]["http.route"] == "/webhooks/{account}/{secret}"
    assert receipt["attributes"]["http.response.status_code"] == 200
    assert receipt["attributes"]["account"] == "sandbox"

    (append,) = receiver.named("event_log append")
    assert (append["trace_id"], append["parent_span_id"]) == (receipt["trace_id"], receipt["span_id"])
    assert append["attributes"]["events.count"] == 1
    assert append["attributes"]["events.bytes"] > 0

    deliveries = [span for span in receiver.named("event deliver") if span["attributes"]["event.id"] == delivered.id]
    assert len(deliveries) == 1, receiver.named("event deliver")
    (delivery,) = deliveries
    assert delivery["links"] == [(append["trace_id"], append["span_id"])], "delivered live: linked to its append"
    (subscribe,) = receiver.named("wazzup_gateway.v1.EventService/Subscribe")
    assert (delivery["trace_id"], delivery["parent_span_id"]) == (subscribe["trace_id"], subscribe["span_id"])
    assert delivery["attributes"]["event.cursor"] > 0

    leaking = [span for span in receiver.spans if SANDBOX_WEBHOOK_SECRET in repr(span)]
    assert leaking == [], "no span may carry the webhook secret"

    # After a restart the event is read back from disk: its delivery carries the event id, no link.
    with OtlpReceiver("grpc") as receiver_after:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver_after.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        restarted = start_gateway(env={**SANDBOX_WEBHOOK_ENV, **otel}, data_dir=gateway.data_dir)
        with grpc.insecure_channel(restarted.grpc_target) as channel:
            stream = pb.stub("EventService", channel).Subscribe(
                pb.message("SubscribeRequest", {"earliest": True}), timeout=15.0
            )
            replayed = next(response.event for response in stream if response.WhichOneof("kind") == "event")
            stream.cancel()
        assert restarted.stop() == 0

    assert replayed.id == delivered.id
    (from_disk,) = [
        span for span in receiver_after.named("event deliver") if span["attributes"]["event.id"] == delivered.id
    ]
    assert from_disk["links"] == []


def _is_descendant(receiver: OtlpReceiver, span: dict, of: dict) -> bool:
    by_id = {candidate["span_id"]: candidate for candidate in receiver.spans}
    parent_id = span["parent_span_id"]
    while parent_id in by_id:
        if parent_id == of["span_id"]:
            return True
        parent_id = by_id[parent_id]["parent_span_id"]
    return parent_id == of["span_id"]
