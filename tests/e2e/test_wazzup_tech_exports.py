"""A message export end to end against a local mock of the Wazzup partner API v2 (`wazzup_tech`):
grpcurl creates the export, watches it to DONE, and reads its rows from the CSV the mock serves.

The mock answers the export job as `processing` on its first read and `done` afterwards, with a link
to a CSV of its own in the shape clients meet in practice: UTF-8 BOM, `;` delimiter, a quoted cell
with an embedded newline and delimiter, and a column the gateway does not know.
"""

from __future__ import annotations

import pytest

from upstream_mock import RecordingUpstream, json_answer, running_gateway

API_KEY = "e2e-tech-token-5d1f0c2a9b7e4c3d8a6f"
EXPORT_ID = "exp-7f3a"
CHANNEL_ID = "c0a8f9b2-6a44-4d0e-9a51-0c7d2e1b3f45"
CSV = (
    "\ufeffdirection;transport;chat_type;chat_id;user_name;user_username;user_phone;datetime;text\n"
    'inbound;whatsapp;whatsapp;79011112233;Ivan Petrov;;79011112233;2026-11-01T10:00:00Z;"Hello; is it\n'
    'ready?"\n'
    "outbound;whatsapp;whatsapp;79011112233;Ivan Petrov;;79011112233;2026-11-01T10:05:00Z;Yes\n"
).encode()


class TechExportUpstream:
    """Answers like tech.wazzup24.com/v2 for one export job."""

    def __init__(self) -> None:
        self.reads = 0
        self.base_url = ""

    def __call__(self, method: str, path: str):
        if (method, path) == ("GET", "/v2/channels"):
            channel = {"channel_id": CHANNEL_ID, "transport": "whatsapp", "status": "active", "phone": "79990001122"}
            return json_answer(200, {"data": [channel], "meta": {}})
        if (method, path) == ("POST", "/v2/messages/messages_dump"):
            return json_answer(200, {"data": {"export_id": EXPORT_ID, "status": "pending"}, "meta": {}})
        if (method, path) == ("GET", f"/v2/messages/messages_dump/{EXPORT_ID}"):
            self.reads += 1
            if self.reads == 1:
                return json_answer(200, {"data": {"status": "processing"}})
            return json_answer(200, {"data": {"status": "done", "url": f"{self.base_url}/files/{EXPORT_ID}.csv"}})
        if (method, path) == ("GET", f"/files/{EXPORT_ID}.csv"):
            return 200, CSV, "text/csv; charset=utf-8"
        return json_answer(404, {"error": "NOT_FOUND", "description": "unknown route"})


@pytest.fixture
def mock():
    upstream = TechExportUpstream()
    with RecordingUpstream(upstream) as running:
        upstream.base_url = running.base_url
        yield running


@pytest.fixture
def tech_gateway(mock, tmp_path):
    yield from running_gateway(tmp_path, "wazzup_tech", mock.base_url, API_KEY)


def test_grpcurl_creates_watches_and_reads_an_export_from_the_partner_api(tech_gateway, mock):
    created = tech_gateway.grpcurl("ExportService/CreateMessageExport", {
        "start_time": "2026-11-01T00:00:00Z",
        "end_time": "2026-11-02T00:00:00Z",
        "channel_id": CHANNEL_ID,
    })
    watched = tech_gateway.grpcurl_messages(
        "ExportService/WatchMessageExport", {"export_id": EXPORT_ID}, max_time_s=60)
    rows = [message["row"] for message in tech_gateway.grpcurl_messages(
        "ExportService/ReadMessageExport", {"export_id": EXPORT_ID}, max_time_s=30)]

    assert created["export"]["exportId"] == EXPORT_ID
    assert created["export"]["state"] == "EXPORT_STATE_PENDING"
    (create,) = mock.of("POST", "/v2/messages/messages_dump")
    assert create["body"] == {
        "start_at": "2026-11-01T00:00:00.000Z",
        "end_at": "2026-11-02T00:00:00.000Z",
        "channel_id": CHANNEL_ID,
    }
    assert create["authorization"] == f"Bearer {API_KEY}"

    states = [message["export"]["state"] for message in watched]
    assert states[-1] == "EXPORT_STATE_DONE", states
    assert "EXPORT_STATE_PROCESSING" in states, states
    assert all(earlier != later for earlier, later in zip(states, states[1:])), "one message per change"
    assert watched[-1]["export"]["url"] == f"{mock.base_url}/files/{EXPORT_ID}.csv"

    assert len(rows) == 2
    first, second = rows
    assert first["direction"] == "DIRECTION_INBOUND"
    assert first["directionRaw"] == "inbound"
    assert first["chatType"] == "CHAT_TYPE_WHATSAPP"
    assert first["chatId"] == "79011112233"
    assert first["userName"] == "Ivan Petrov"
    assert first["userPhone"] == "79011112233"
    assert first["sentAt"] == "2026-11-01T10:00:00Z"
    assert first["otherColumns"] == {"text": "Hello; is it\nready?"}
    assert int(first["lineNumber"]) == 2
    assert second["direction"] == "DIRECTION_OUTBOUND"
    assert second["otherColumns"] == {"text": "Yes"}
    assert int(second["lineNumber"]) > int(first["lineNumber"])
    assert len(mock.of("GET", f"/files/{EXPORT_ID}.csv")) == 1
