"""Caller authentication with a bearer token (WGW_AUTH_TOKEN)."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness import PACKAGE, RPC_TIMEOUT_S, SERVICES, grpcurl, grpcurl_ok_json, parse_grpcurl_error, send_request

TOKEN = "e2e-caller-token-7f3a9c"
LIST_CHANNELS = f"{PACKAGE}.ChannelService/ListChannels"


@pytest.fixture
def authed_gateway(start_gateway):
    return start_gateway(env={"WGW_AUTH_TOKEN": TOKEN})


@pytest.fixture
def authed_channel(authed_gateway):
    with grpc.insecure_channel(authed_gateway.grpc_target) as grpc_channel:
        yield grpc_channel


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", TOKEN),),
    ],
    ids=["no-token", "wrong-token", "token-without-bearer-scheme"],
)
def test_calls_without_the_right_bearer_token_are_unauthenticated(authed_channel, pb, metadata):
    stub = pb.stub("MessageService", authed_channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.SendMessage(pb.message("SendMessageRequest", send_request()), metadata=metadata, timeout=RPC_TIMEOUT_S)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, raised.value.details()


def test_calls_with_the_bearer_token_succeed(authed_channel, pb):
    stub = pb.stub("MessageService", authed_channel)

    answer = stub.SendMessage(
        pb.message("SendMessageRequest", send_request()),
        metadata=(("authorization", f"Bearer {TOKEN}"),),
        timeout=RPC_TIMEOUT_S,
    )

    assert answer.message_id


def test_grpcurl_needs_the_bearer_token_header(authed_gateway):
    without = grpcurl(authed_gateway.grpc_target, LIST_CHANNELS, data={})
    with_token = grpcurl_ok_json(
        authed_gateway.grpc_target, LIST_CHANNELS, {}, headers=(f"authorization: Bearer {TOKEN}",)
    )

    assert parse_grpcurl_error(without.stdout + without.stderr).code == "Unauthenticated"
    assert with_token["channels"]


def test_health_stays_open_without_a_token(authed_channel):
    stub = health_pb2_grpc.HealthStub(authed_channel)

    answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT_S)

    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_stays_open_without_a_token(authed_gateway):
    result = grpcurl(authed_gateway.grpc_target, "list")

    assert result.returncode == 0, result.stderr
    assert SERVICES <= set(result.stdout.split())
