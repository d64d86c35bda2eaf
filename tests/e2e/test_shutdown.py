"""Graceful shutdown: SIGTERM drains in-flight calls, refuses new ones, and exits 0."""

import time

import grpc

from harness import RPC_TIMEOUT_S, send_request

DRAIN_TIMEOUT_S = 10.0
IN_FLIGHT_CALLS = 5


def test_sigterm_lets_in_flight_calls_finish_and_refuses_new_ones(start_gateway, pb):
    gateway = start_gateway(env={"WGW_SANDBOX_LATENCY": "1500ms", "WGW_DRAIN_TIMEOUT": "10s"})
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT_S)
        stub = pb.stub("MessageService", channel)
        request = pb.message("SendMessageRequest", send_request())
        in_flight = [stub.SendMessage.future(request, timeout=RPC_TIMEOUT_S) for _ in range(IN_FLIGHT_CALLS)]

        time.sleep(0.3)
        assert not any(call.done() for call in in_flight), "calls finished before SIGTERM; latency not applied?"
        gateway.send_sigterm()
        signalled_at = time.monotonic()
        time.sleep(0.2)

        try:
            with grpc.insecure_channel(gateway.grpc_target) as late_channel:
                pb.stub("MessageService", late_channel).SendMessage(request, timeout=RPC_TIMEOUT_S)
            late_call_code = grpc.StatusCode.OK
        except grpc.RpcError as error:
            late_call_code = error.code()

        outcomes = []
        for call in in_flight:
            try:
                outcomes.append((call.result(timeout=RPC_TIMEOUT_S).message_id != "", grpc.StatusCode.OK))
            except grpc.RpcError as error:
                outcomes.append((False, error.code()))

    exit_code = gateway.wait_exit(timeout_s=DRAIN_TIMEOUT_S + 5)
    exited_after_s = time.monotonic() - signalled_at

    assert outcomes == [(True, grpc.StatusCode.OK)] * IN_FLIGHT_CALLS
    assert late_call_code == grpc.StatusCode.UNAVAILABLE
    assert exit_code == 0
    assert exited_after_s < DRAIN_TIMEOUT_S, f"exited {exited_after_s:.1f} s after SIGTERM"
