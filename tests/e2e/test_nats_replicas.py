"""Two gateway processes on one nats-server (events.backend = nats): the state the replicas share beyond the
event log. A CRM entity request held by replica A is answered by `Respond` on replica B, the two replicas
together send the upstream at most one account's rate budget per window, and one keyed send started on both
replicas at once reaches the upstream once.

The nats-server fixture is the one of test_nats_backend.py (skipped without nats-server unless CI is set).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from harness import RPC_TIMEOUT_S, SANDBOX_WEBHOOK_SECRET, rpc_error_details
from test_nats_backend import first_events, nats_env, nats_server, wait_for_readyz  # noqa: F401 (nats_server is a fixture)
from test_wazzup_v3_mock import CHANNELS, WHATSAPP, answer_like_v3
from upstream_mock import RecordingUpstream, json_answer

CONTACT = {"id": "c-42", "responsibleUserId": "1", "name": "contact name",
           "contactData": [{"chatType": "whatsapp", "chatId": "79011112233"}]}


def post_and_read(gateway, body: dict, answers: list) -> None:
    """POSTs a webhook to the sandbox account and appends (status, JSON body) to `answers`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway.webhook_port}/webhooks/sandbox/{SANDBOX_WEBHOOK_SECRET}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answers.append((response.status, json.loads(response.read())))
    except urllib.error.HTTPError as error:
        answers.append((error.code, error.read().decode(errors="replace")))


def respond(pb, gateway, event_id: str, body: dict) -> bool:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        request = pb.message("RespondRequest", {"event_id": event_id, "body": body})
        return pb.stub("EventService", channel).Respond(request, timeout=RPC_TIMEOUT_S).delivered


def replicas_of_one_v3_account(start_gateway, nats_server, tmp_path, upstream, limits: str = "") -> list:
    """Starts two gateways on `nats_server` serving one wazzup_v3 account whose API is `upstream`."""
    key_file = tmp_path / "acme-api-key"
    key_file.write_text("e2e-replicas-key\n")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[[accounts]]\nname = "acme"\ndialect = "wazzup_v3"\nbase_url = "{upstream.base_url}"\n'
        f'api_key_file = "{key_file}"\n{limits}'
    )
    env = {"WGW_EVENTS_BACKEND": "nats", "WGW_NATS_URL": nats_server.url}
    return [start_gateway(args=["--config", str(config)], env=env) for _ in range(2)]


def send_text(pb, gateway, text: str, idempotency_key: str = ""):
    """Sends `text` to a WhatsApp chat through `gateway`; returns the SendMessageResponse."""
    request = pb.message("SendMessageRequest", {
        "channel_id": WHATSAPP,
        "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
        "text": text,
        "idempotency_key": idempotency_key,
    })
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        return pb.stub("MessageService", channel).SendMessage(request, timeout=RPC_TIMEOUT_S)


def wait_for_log_line(gateway, text: str, timeout_s: float = RPC_TIMEOUT_S) -> None:
    """Waits until `text` appears in `gateway`'s log (the event the test needs before going on)."""
    deadline = time.monotonic() + timeout_s
    while text not in gateway.log_text():
        assert time.monotonic() < deadline, f"{text!r} never logged by {gateway.log_path}"
        time.sleep(0.05)


class HeldSends:
    """Answers like the v3 API, numbering sent messages, and holds the first POST /v3/message until released."""

    def __init__(self) -> None:
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.sends = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str):
        if (method, path) == ("GET", "/v3/channels"):
            return json_answer(200, CHANNELS)
        if (method, path) != ("POST", "/v3/message"):
            return json_answer(404, {"error": "NOT_FOUND", "description": "unknown route"})
        with self.lock:
            self.sends += 1
            number = self.sends
        if number == 1:
            self.first_arrived.set()
            assert self.release.wait(timeout=RPC_TIMEOUT_S), "the test never released the first send"
        return json_answer(201, {"messageId": f"sent-{number}", "chatId": "79011112233"})


def test_one_keyed_send_started_on_both_replicas_at_once_reaches_the_upstream_once(start_gateway, pb, nats_server, tmp_path):  # noqa: F811
    held = HeldSends()
    with RecordingUpstream(held) as upstream:
        first, second = replicas_of_one_v3_account(start_gateway, nats_server, tmp_path, upstream)
        with ThreadPoolExecutor(max_workers=2) as pool:
            on_first = pool.submit(send_text, pb, first, "order 7 shipped", "order-7")
            assert held.first_arrived.wait(timeout=RPC_TIMEOUT_S), "the first replica never sent"
            on_second = pool.submit(send_text, pb, second, "order 7 shipped", "order-7")
            # The second call found the first replica's reservation and waits for its outcome.
            wait_for_log_line(second, "waiting for the outcome of a keyed send reserved by another process")
            held.release.set()
            first_answer, second_answer = on_first.result(), on_second.result()

        retried = [send_text(pb, replica, "order 7 shipped", "order-7") for replica in (second, first)]

        assert len(upstream.of("POST", "/v3/message")) == 1, upstream.requests
        assert first_answer.message_id == second_answer.message_id == "sent-1"
        assert (first_answer.replayed, second_answer.replayed) == (False, True)
        assert [(answer.message_id, answer.replayed) for answer in retried] == [("sent-1", True)] * 2


def test_a_crm_request_held_by_one_replica_is_answered_by_respond_on_the_other(start_gateway, pb, nats_server):  # noqa: F811
    holder = start_gateway(env=nats_env(nats_server))
    other = start_gateway(env=nats_env(nats_server))
    answers: list = []
    posting = threading.Thread(
        target=post_and_read,
        args=(holder, {"createContact": {"responsibleUserId": "1", "name": "contact name",
                                         "contactData": [{"chatType": "whatsapp", "chatId": "79011112233"}],
                                         "source": "auto"}}, answers),
    )
    posting.start()

    (event,) = first_events(pb, other, 1)
    delivered = respond(pb, other, event.id, CONTACT)
    posting.join(timeout=60)

    assert delivered, "the holder took the answer"
    assert answers == [(200, CONTACT)]
    assert not respond(pb, other, event.id, {"id": "again"}), "a repeated answer is refused"
    assert not respond(pb, holder, event.id, {"id": "again"}), "also on the holder"


def test_respond_while_nats_is_unreachable_is_unavailable_never_a_silent_false(start_gateway, pb, nats_server):  # noqa: F811
    gateway = start_gateway(env=nats_env(nats_server))

    nats_server.stop()
    status, _ = wait_for_readyz(gateway, lambda status, _: status == 503)
    assert status == 503
    with pytest.raises(grpc.RpcError) as raised:
        respond(pb, gateway, "evt-while-down", CONTACT)

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    (info,) = rpc_error_details(raised.value)["google.rpc.ErrorInfo"]
    assert info.reason == "EVENT_LOG_UNAVAILABLE"
    nats_server.start()
    wait_for_readyz(gateway, lambda status, _: status == 200)


def test_two_replicas_together_send_at_most_the_accounts_budget_per_window(start_gateway, pb, nats_server, tmp_path):  # noqa: F811
    # A window so long that it cannot roll over during the test: every grant below is in one window.
    budget = 6
    with RecordingUpstream(answer_like_v3) as upstream:
        limits = f'[accounts.limits]\nrequests_per_window = {budget}\nrate_window = "1000days"\n'
        replicas = replicas_of_one_v3_account(start_gateway, nats_server, tmp_path, upstream, limits)

        def send(number: int) -> str:
            try:
                send_text(pb, replicas[number % 2], f"budget probe {number}")
                return "sent"
            except grpc.RpcError as error:
                return error.code().name

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(send, range(16)))

        assert len(upstream.requests) == budget, [(r["method"], r["path"]) for r in upstream.requests]
        assert set(outcomes) <= {"sent", "RESOURCE_EXHAUSTED"}, outcomes
        assert outcomes.count("RESOURCE_EXHAUSTED") >= 16 - budget, outcomes
        for replica in replicas:
            assert "upstream rate budgets shared on NATS JetStream" in replica.log_text()
