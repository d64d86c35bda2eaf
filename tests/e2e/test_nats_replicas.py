"""Two gateway processes on one nats-server (events.backend = nats): the state the replicas share beyond the
event log. A CRM entity request held by replica A is answered by `Respond` on replica B, and the two replicas
together send the upstream at most one account's rate budget per window.

The nats-server fixture is the one of test_nats_backend.py (skipped without nats-server unless CI is set).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from harness import RPC_TIMEOUT_S, SANDBOX_WEBHOOK_SECRET, rpc_error_details
from test_nats_backend import first_events, nats_env, nats_server, wait_for_readyz  # noqa: F401 (nats_server is a fixture)
from test_wazzup_v3_mock import WHATSAPP, answer_like_v3
from upstream_mock import RecordingUpstream

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
        key_file = tmp_path / "acme-api-key"
        key_file.write_text("e2e-budget-key\n")
        config = tmp_path / "gateway.toml"
        config.write_text(
            f'[[accounts]]\nname = "acme"\ndialect = "wazzup_v3"\nbase_url = "{upstream.base_url}"\n'
            f'api_key_file = "{key_file}"\n'
            f'[accounts.limits]\nrequests_per_window = {budget}\nrate_window = "1000days"\n'
        )
        env = {"WGW_EVENTS_BACKEND": "nats", "WGW_NATS_URL": nats_server.url}
        replicas = [start_gateway(args=["--config", str(config)], env=env) for _ in range(2)]

        def send(number: int) -> str:
            gateway = replicas[number % 2]
            request = pb.message("SendMessageRequest", {
                "channel_id": WHATSAPP,
                "recipient": {"chat_type": "CHAT_TYPE_WHATSAPP", "chat_id": "79011112233"},
                "text": f"budget probe {number}",
            })
            with grpc.insecure_channel(gateway.grpc_target) as channel:
                try:
                    pb.stub("MessageService", channel).SendMessage(request, timeout=RPC_TIMEOUT_S)
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
