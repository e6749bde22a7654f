"""The wire frames: strict in, canonical out, and a parser that never raises."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.protocol import (
    CLOUD_TO_EDGE,
    CLOUD_TO_UI,
    EDGE_TO_CLOUD,
    UI_TO_CLOUD,
    ChannelSample,
    CloudToEdgeCommand,
    FrameError,
    UiAck,
    UiCommand,
    UiTelemetry,
    encode,
)

CID = "123e4567-e89b-42d3-a456-426614174000"


def command(**changes: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "command",
        "command_id": CID,
        "edge_id": "site-1",
        "device": "battery_1",
        "action": "set_active_power",
        "value": -2500,
        "issued_at": "2026-01-01T00:00:00Z",
    }
    frame.update(changes)
    return {k: v for k, v in frame.items() if v is not ...}


def test_valid_command_decodes_with_defaults() -> None:
    frame = UI_TO_CLOUD.decode(json.dumps(command()))
    assert isinstance(frame, UiCommand)
    assert frame.ttl_s == 300
    assert frame.issued_at == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('"auth"', "malformed_json"),
        (json.dumps({"type": "launch"}), "unknown_type"),
        (json.dumps({"edge_id": "site-1"}), "invalid_payload"),
        (json.dumps(command(extra=1)), "invalid_payload"),
        (json.dumps(command(value="x" * 65)), "invalid_payload"),
        (json.dumps(command(value=None)), "invalid_payload"),
        (json.dumps(command(value=[1])), "invalid_payload"),
        (json.dumps(command(ttl_s=3601)), "invalid_payload"),
        (json.dumps(command(ttl_s="60")), "invalid_payload"),
        (json.dumps(command(issued_at="2026-01-01T00:00:00")), "invalid_payload"),
        (json.dumps(command(issued_at="yesterday")), "invalid_payload"),
        (json.dumps(command(command_id="not-a-uuid")), "invalid_payload"),
        (json.dumps(command(edge_id="Site 1; DROP TABLE")), "invalid_payload"),
        (json.dumps(command(device="../battery")), "invalid_payload"),
        (json.dumps(command(issued_at=...)), "invalid_payload"),
    ],
)
def test_bad_frames_get_a_stable_code(raw: str, code: str) -> None:
    result = UI_TO_CLOUD.decode(raw)
    assert isinstance(result, FrameError)
    assert result.code == code
    assert result.detail


def test_refused_command_names_its_id_when_readable() -> None:
    result = UI_TO_CLOUD.decode(json.dumps(command(value={"w": 1})))
    assert isinstance(result, FrameError)
    assert result.command_id == CID
    assert result.frame_type == "command"
    assert "value" in result.detail
    assert result.edge_id == "site-1"
    unreadable = UI_TO_CLOUD.decode(json.dumps(command(command_id="x", value={})))
    assert isinstance(unreadable, FrameError)
    assert unreadable.command_id is None
    bad_edge = UI_TO_CLOUD.decode(json.dumps(command(edge_id="Site 1!", value={})))
    assert isinstance(bad_edge, FrameError)
    assert bad_edge.edge_id is None


def test_no_coercion() -> None:
    assert isinstance(
        EDGE_TO_CLOUD.decode(
            '{"type":"telemetry","seq":"1","ts":"2026-01-01T00:00:00Z","channels":{}}'
        ),
        FrameError,
    )
    assert isinstance(
        EDGE_TO_CLOUD.decode(
            '{"type":"telemetry","seq":1.0,"ts":"2026-01-01T00:00:00Z","channels":{}}'
        ),
        FrameError,
    )


def test_endpoints_accept_only_their_frames() -> None:
    ok = json.dumps({"type": "auth", "token": "x"})
    assert not isinstance(UI_TO_CLOUD.decode(ok), FrameError)
    assert isinstance(EDGE_TO_CLOUD.decode(ok), FrameError), "an edge auth needs edge_id and key"
    sub = json.dumps({"type": "subscribe", "edge_id": "site-1"})
    result = EDGE_TO_CLOUD.decode(sub)
    assert isinstance(result, FrameError)
    assert result.code == "unknown_type"


def test_encode_round_trips_with_utc_z() -> None:
    at = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)
    frames = [
        UiAck(command_id=CID, edge_id="site-1", status="executed", at=at),
        UiTelemetry(
            edge_id="site-1",
            ts=at,
            channels={
                "battery_1/Soc": ChannelSample(v=55.2, t=at),
                "battery_1/State": ChannelSample(v="idle", t=at),
                "pv_1/SetActivePowerLimit": ChannelSample(v=None, t=at),
            },
        ),
    ]
    for frame in frames:
        text = encode(frame)
        assert '"2026-01-01T12:30:00.000Z"' in text
        assert CLOUD_TO_UI.decode(text) == frame
    cmd = CloudToEdgeCommand(
        command_id=CID,
        device="battery_1",
        action="set_active_power",
        value=-2000,
        issued_at=at,
        deadline=at,
        user="alice",
    )
    assert CLOUD_TO_EDGE.decode(encode(cmd)) == cmd


def test_offset_timestamps_are_normalised_to_utc() -> None:
    frame = UI_TO_CLOUD.decode(json.dumps(command(issued_at="2026-01-01T02:00:00+02:00")))
    assert isinstance(frame, UiCommand)
    assert encode(frame).count("2026-01-01T00:00:00.000Z") == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
frame_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["auth", "command", "subscribe", "telemetry", "ack", "inventory", "x"]
        )
    },
    optional={
        "command_id": st.sampled_from([CID, str(uuid.uuid4()), "1"]),
        "edge_id": st.sampled_from(["site-1", "", "A"]),
        "value": json_values,
        "token": json_values,
        "seq": json_values,
        "channels": json_values,
        "issued_at": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01", "x"]),
    },
)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200) | frame_like.map(json.dumps))
def test_decoders_never_raise(raw: bytes | str) -> None:
    for decoder in (UI_TO_CLOUD, EDGE_TO_CLOUD, CLOUD_TO_EDGE, CLOUD_TO_UI):
        result = decoder.decode(raw)
        if isinstance(result, FrameError):
            assert result.code in {"malformed_json", "unknown_type", "invalid_payload"}


def test_schema_command_prints_json_schema() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "protocol", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    schema = json.loads(proc.stdout)
    assert "UiCommand" in schema["$defs"]
    assert schema["$defs"]["UiCommand"]["additionalProperties"] is False
    assert set(schema["directions"]) == {
        "ui_to_cloud",
        "cloud_to_ui",
        "edge_to_cloud",
        "cloud_to_edge",
    }
