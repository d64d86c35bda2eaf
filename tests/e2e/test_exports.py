"""ExportService against the sandbox with the real grpcurl: create an export, watch it to DONE, read its rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from harness import (
    PACKAGE,
    WHATSAPP_CHANNEL,
    grpcurl,
    grpcurl_ok_json,
    parse_grpcurl_error,
    send_request,
    snake_case_keys,
)

EXPORTS = f"{PACKAGE}.ExportService"
SEND_MESSAGE = f"{PACKAGE}.MessageService/SendMessage"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def documents(output: str) -> list[dict]:
    """The JSON documents grpcurl printed one after another for a server stream."""
    decoder = json.JSONDecoder()
    found, position = [], 0
    while position < len(output):
        if output[position].isspace():
            position += 1
            continue
        value, position = decoder.raw_decode(output, position)
        found.append(snake_case_keys(value))
    return found


def test_grpcurl_creates_watches_and_reads_a_sandbox_export(gateway):
    grpcurl_ok_json(gateway.grpc_target, SEND_MESSAGE, send_request(text="exported; with \"quotes\""))
    now = datetime.now(timezone.utc)
    period = {"start_time": rfc3339(now - timedelta(hours=1)), "end_time": rfc3339(now + timedelta(hours=1))}

    created = grpcurl_ok_json(gateway.grpc_target, f"{EXPORTS}/CreateMessageExport", period)["export"]
    watched = grpcurl(gateway.grpc_target, f"{EXPORTS}/WatchMessageExport", data={"export_id": created["export_id"]})
    read = grpcurl(gateway.grpc_target, f"{EXPORTS}/ReadMessageExport", data={"export_id": created["export_id"]})

    assert created["state"] == "EXPORT_STATE_PENDING"
    assert watched.returncode == 0, watched.stderr
    states = [document["export"]["state"] for document in documents(watched.stdout)]
    assert states[0] == "EXPORT_STATE_PENDING", states
    assert states[-1] == "EXPORT_STATE_DONE", states
    done = documents(watched.stdout)[-1]["export"]
    assert done["url"].startswith("http://127.0.0.1:"), done
    assert done["url"].endswith(f"/sandbox/exports/sandbox/{created['export_id']}.csv"), done
    assert read.returncode == 0, read.stderr
    rows = [document["row"] for document in documents(read.stdout)]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["line_number"] == "2"
    assert row["direction"] == "DIRECTION_OUTBOUND"
    assert row["transport"] == "TRANSPORT_WHATSAPP"
    assert row["chat_id"] == "79991112233"
    assert row["other_columns"]["text"] == 'exported; with "quotes"'
    assert row["other_columns"]["channel_id"] == WHATSAPP_CHANNEL


def test_grpcurl_sees_why_an_export_cannot_be_created_or_read(gateway):
    now = datetime.now(timezone.utc)
    backwards = {"start_time": rfc3339(now), "end_time": rfc3339(now - timedelta(days=1))}

    refused = grpcurl(gateway.grpc_target, f"{EXPORTS}/CreateMessageExport", data=backwards)
    created = grpcurl_ok_json(
        gateway.grpc_target,
        f"{EXPORTS}/CreateMessageExport",
        {"start_time": rfc3339(now - timedelta(days=1)), "end_time": rfc3339(now)},
    )["export"]
    too_early = grpcurl(gateway.grpc_target, f"{EXPORTS}/ReadMessageExport", data={"export_id": created["export_id"]})

    error = parse_grpcurl_error(refused.stderr)
    assert error.code == "InvalidArgument"
    violations = next(detail for detail in error.details if "field_violations" in detail)["field_violations"]
    assert [violation["field"] for violation in violations] == ["end_time"]
    early = parse_grpcurl_error(too_early.stderr)
    assert early.code == "FailedPrecondition"
    assert any(detail.get("reason") == "EXPORT_NOT_READY" for detail in early.details), early.details
