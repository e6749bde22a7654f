"""The edge's audit frame and the clock ping/pong: strict, bounded, precise to the microsecond."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ems.protocol import (
    CLOUD_TO_EDGE,
    EDGE_TO_CLOUD,
    MAX_AUDIT_RECORDS,
    ClockPong,
    EdgeAudit,
    FrameError,
    encode,
)

CID = "123e4567-e89b-42d3-a456-426614174000"
RID = "9b2f7e1c-3d4a-4b5c-8d6e-7f8091a2b3c4"


def record(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": RID,
        "seq": 3,
        "command_id": CID,
        "event": "controller.executed",
        "status": "executed",
        "reason": None,
        "detail": "battery_1/SetActivePower = -2500 W",
        "at": "2026-01-01T00:00:00.123456Z",
    }
    out.update(changes)
    return out


def audit(*records: dict[str, Any]) -> str:
    return json.dumps({"type": "audit", "records": list(records)})


def test_an_audit_frame_round_trips_with_microseconds() -> None:
    frame = EDGE_TO_CLOUD.decode(audit(record(), record(event="edge.request_written")))
    assert isinstance(frame, EdgeAudit)
    assert frame.records[0].at.microsecond == 123456
    assert json.loads(encode(frame))["records"][0]["at"] == "2026-01-01T00:00:00.123456Z"


@pytest.mark.parametrize(
    "bad",
    [
        record(event="cloud.sent"),  # an edge never speaks for the cloud
        record(event="edge"),
        record(event="edge.Received"),
        record(event="edge." + "x" * 64),
        record(command_id="cmd-1"),
        record(id="not-a-uuid"),
        record(seq=-1),
        record(seq="1"),
        record(status="Executed"),
        record(detail="x" * 1001),
        record(at="2026-01-01T00:00:00"),  # no time zone
        record(extra="field"),
        {k: v for k, v in record().items() if k != "at"},
    ],
)
def test_a_bad_record_is_invalid_payload(bad: dict[str, Any]) -> None:
    error = EDGE_TO_CLOUD.decode(audit(bad))
    assert isinstance(error, FrameError) and error.code == "invalid_payload"


def test_an_audit_frame_is_bounded() -> None:
    assert isinstance(EDGE_TO_CLOUD.decode(audit(*[record()] * MAX_AUDIT_RECORDS)), EdgeAudit)
    for size in (0, MAX_AUDIT_RECORDS + 1):
        error = EDGE_TO_CLOUD.decode(audit(*[record()] * size))
        assert isinstance(error, FrameError) and error.code == "invalid_payload"


def test_clock_ping_and_pong() -> None:
    ping = EDGE_TO_CLOUD.decode(
        json.dumps({"type": "clock_ping", "edge_time": "2026-01-01T01:00:00.000001+01:00"})
    )
    assert not isinstance(ping, FrameError) and ping.type == "clock_ping"
    pong = ClockPong(edge_time=ping.edge_time, server_time=ping.edge_time)  # type: ignore[union-attr]
    text = encode(pong)
    assert json.loads(text)["edge_time"] == "2026-01-01T00:00:00.000001Z"
    assert CLOUD_TO_EDGE.decode(text) == pong
    for bad in ({"type": "clock_ping"}, {"type": "clock_ping", "edge_time": 5}):
        error = EDGE_TO_CLOUD.decode(json.dumps(bad))
        assert isinstance(error, FrameError) and error.code == "invalid_payload"
    # The cloud never receives a pong, an edge never a ping.
    assert EDGE_TO_CLOUD.decode(text).code == "unknown_type"  # type: ignore[union-attr]
