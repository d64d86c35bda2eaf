"""Limits per caller on the built binary: a token over its open-stream limit is refused with
RESOURCE_EXHAUSTED and an ErrorInfo grpcurl prints, the slot comes back when the stream ends, and the
refusal is counted on /metrics. (The rate is tested on tokio's paused clock in the Rust tests, which
wall-clock e2e tests cannot do without depending on the machine's speed.)"""

from __future__ import annotations

import time
import urllib.request

import grpc

from harness import RPC_TIMEOUT_S, grpcurl, parse_grpcurl_error

TOKEN = "e2e-limits-token-91b4"
SUBSCRIBE = "wazzup_gateway.v1.EventService/Subscribe"
#: How long the gateway may take to notice that a cancelled stream ended (bounded patience).
RELEASE_WAIT_S = 10.0


def open_stream(channel: grpc.Channel, pb):
    """Opens a Subscribe stream as the token's caller and waits for its first message (a heartbeat)."""
    stream = pb.stub("EventService", channel).Subscribe(
        pb.message("SubscribeRequest", {"earliest": True}),
        metadata=(("authorization", f"Bearer {TOKEN}"),),
        timeout=RPC_TIMEOUT_S * 6,
    )
    assert next(stream).WhichOneof("kind") == "heartbeat"
    return stream


def test_a_token_over_its_stream_limit_is_refused_until_its_stream_ends(start_gateway, pb):
    gateway = start_gateway(env={"WGW_AUTH_TOKEN": TOKEN, "WGW_CALLER_MAX_STREAMS": "1"})
    headers = (f"authorization: Bearer {TOKEN}",)

    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stream = open_stream(channel, pb)
        refused = grpcurl(gateway.grpc_target, SUBSCRIBE, data={"earliest": True}, headers=headers)
        error = parse_grpcurl_error(refused.stdout + refused.stderr)
        assert error.code == "ResourceExhausted", refused.stderr
        [info] = [d for d in error.details if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
        assert (info["reason"], info["domain"]) == ("CALLER_STREAMS_EXHAUSTED", "wazzup-gateway")
        assert info["metadata"] == {"caller": "default", "max_streams": "1"}  # keys as the harness prints them

        stream.cancel()
        deadline = time.monotonic() + RELEASE_WAIT_S
        while True:
            try:
                again = open_stream(channel, pb)
                break
            except grpc.RpcError as still_refused:
                assert still_refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, still_refused.details()
                assert time.monotonic() < deadline, "the cancelled stream's slot was not released"
                time.sleep(0.05)
        again.cancel()

    with urllib.request.urlopen(gateway.admin_url("/metrics"), timeout=RPC_TIMEOUT_S) as response:
        metrics = response.read().decode()
    assert 'caller_limit_refusals_total{caller="default",limit="streams"}' in metrics
    assert TOKEN not in gateway.log_text()
