"""Graceful shutdown: SIGTERM drains in-flight calls, refuses new ones, and exits 0."""

import socket
import time

import grpc

from harness import READY_TIMEOUT_S, RPC_TIMEOUT_S, Gateway, http_get, send_request

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
        wait_until_not_ready(gateway)

        # Once readiness says draining, no new call is admitted: not on a new connection, and not
        # on the connection the in-flight calls use.
        with grpc.insecure_channel(gateway.grpc_target) as late_channel:
            late_call_codes = [
                call_code(lambda: pb.stub("MessageService", late_channel).SendMessage(request, timeout=RPC_TIMEOUT_S)),
                call_code(lambda: stub.SendMessage(request, timeout=RPC_TIMEOUT_S)),
            ]

        outcomes = []
        for call in in_flight:
            try:
                outcomes.append((call.result(timeout=RPC_TIMEOUT_S).message_id != "", grpc.StatusCode.OK))
            except grpc.RpcError as error:
                outcomes.append((False, error.code()))

    exit_code = gateway.wait_exit(timeout_s=DRAIN_TIMEOUT_S + 5)
    exited_after_s = time.monotonic() - signalled_at

    assert outcomes == [(True, grpc.StatusCode.OK)] * IN_FLIGHT_CALLS
    assert late_call_codes == [grpc.StatusCode.UNAVAILABLE] * 2
    assert exit_code == 0
    assert exited_after_s < DRAIN_TIMEOUT_S, f"exited {exited_after_s:.1f} s after SIGTERM"


def wait_until_not_ready(gateway: Gateway) -> None:
    """Waits for /readyz to stop answering 200, the moment a load balancer stops sending calls."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            status, _ = http_get(gateway.admin_url("/readyz"), timeout_s=1.0)
        except OSError:
            return
        if status != 200:
            return
        time.sleep(0.01)
    raise AssertionError(f"/readyz still answered 200 {DRAIN_TIMEOUT_S} s after SIGTERM")


def call_code(call) -> grpc.StatusCode:
    """Runs a unary call and returns its status code."""
    try:
        call()
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def test_sigterm_as_soon_as_the_listeners_accept_still_drains_and_exits_0(gateway_binary, tmp_path):
    """The signal handlers are installed before the listeners are bound: an orchestrator that stops a pod
    the moment its port answers gets a drain, not a process killed by the signal."""
    gateway = Gateway(gateway_binary, tmp_path, ["--sandbox"], {})
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        assert gateway.process.poll() is None, f"gateway exited early:\n{gateway.log_text()}"
        assert time.monotonic() < deadline, f"the admin port never accepted:\n{gateway.log_text()}"
        try:
            socket.create_connection(("127.0.0.1", gateway.admin_port), timeout=1.0).close()
            break
        except OSError:
            time.sleep(0.01)

    gateway.send_sigterm()

    assert gateway.wait_exit(timeout_s=DRAIN_TIMEOUT_S + 5) == 0, gateway.log_text()
