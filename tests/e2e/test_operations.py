"""Health checking, the admin listener and Prometheus metrics."""

import re

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness import PACKAGE, RPC_TIMEOUT_S, grpcurl_ok_json, http_get, send_request

SEND_MESSAGE_METHOD = f"{PACKAGE}.MessageService/SendMessage"


@pytest.mark.parametrize("service", ["", f"{PACKAGE}.MessageService"], ids=["server", "MessageService"])
def test_grpc_health_check_reports_serving(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)

    answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)

    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_grpcurl_health_check_of_the_whole_server_reports_serving(gateway):
    answer = grpcurl_ok_json(gateway.grpc_target, "grpc.health.v1.Health/Check", {"service": ""})

    assert answer == {"status": "SERVING"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_admin_probe_answers_200(gateway, path):
    status, _ = http_get(gateway.admin_url(path))

    assert status == 200


def test_metrics_count_rpcs_by_method_and_code_and_time_them(gateway, channel, pb):
    stub = pb.stub("MessageService", channel)
    stub.SendMessage(pb.message("SendMessageRequest", send_request()), timeout=RPC_TIMEOUT_S)
    with pytest.raises(grpc.RpcError):
        stub.SendMessage(pb.message("SendMessageRequest", send_request(chat_id="not-a-phone")), timeout=RPC_TIMEOUT_S)

    status, body = http_get(gateway.admin_url("/metrics"))

    assert status == 200
    handled = metric_samples(body, "grpc_server_handled_total")
    ok_sends = [
        value for labels, value in handled
        if SEND_MESSAGE_METHOD in labels.get("method", "") and labels.get("code") == "OK"
    ]
    assert ok_sends == [1.0], f"grpc_server_handled_total samples: {handled}"
    failed_sends = [
        value for labels, value in handled
        if SEND_MESSAGE_METHOD in labels.get("method", "") and labels.get("code") != "OK"
    ]
    assert sum(failed_sends) == 1.0, f"grpc_server_handled_total samples: {handled}"
    timed_sends = [
        value for labels, value in metric_samples(body, "grpc_server_handling_seconds_count")
        if SEND_MESSAGE_METHOD in labels.get("method", "")
    ]
    assert sum(timed_sends) == 2.0, f"no grpc_server_handling_seconds histogram for SendMessage in:\n{body}"


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def metric_samples(exposition: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of one metric in Prometheus / OpenMetrics text."""
    samples = []
    for line in exposition.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group("name") == name:
            labels = {label["key"]: label["value"] for label in _LABEL.finditer(match.group("labels") or "")}
            samples.append((labels, float(match.group("value"))))
    return samples
