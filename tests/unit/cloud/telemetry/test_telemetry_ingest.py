"""Telemetry decoded once into rows: the same verdict as the wire decoder, every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.cloud.telemetry import IngestFrame, TelemetryDecoder, rows_from_frame
from ems.protocol import EDGE_TO_CLOUD, EdgeAck, EdgeTelemetry, FrameError

AT = "2026-01-01T12:00:00.250Z"
T = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC).timestamp()


def frame(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": "telemetry",
        "seq": 7,
        "ts": AT,
        "channels": {
            "battery_1/Soc": {"v": 55.5, "t": AT},
            "battery_1/ActivePower": {"v": -2500, "t": AT},
            "grid/Connected": {"v": True, "t": AT},
            "battery_1/Mode": {"v": "auto", "t": AT},
            "load/ActivePower": {"v": None, "t": AT},
            "pv_1/ActivePower": {"v": 10.0, "t": "2026-01-01T14:00:01+02:00"},
        },
    }
    document.update(changes)
    return document


def with_channel(sample: object, address: str = "a/B") -> dict[str, Any]:
    return frame(channels={address: sample})


def test_a_valid_frame_gives_the_rows_and_latest_values_of_the_wire_decoder() -> None:
    raw = json.dumps(frame())
    decoder = TelemetryDecoder()
    latest: dict[str, tuple[object, float]] = {}
    decoded = decoder.decode("site-1", raw, latest)
    reference = EDGE_TO_CLOUD.decode(raw)
    assert isinstance(decoded, IngestFrame) and isinstance(reference, EdgeTelemetry)
    assert decoder.fast == 1 and decoder.general == 0
    assert (decoded.seq, decoded.ts, decoded.backfill) == (7, reference.ts, False)
    assert decoded.rows == rows_from_frame("site-1", reference.channels)
    assert latest == {a: (s.v, s.t.timestamp()) for a, s in reference.channels.items()}
    assert latest["pv_1/ActivePower"] == (10.0, T + 0.75)  # its own time, in UTC seconds
    assert decoded.samples() == reference.channels  # what a live view is sent


def test_the_sample_view_serves_alarms_value_and_time() -> None:
    decoded = TelemetryDecoder().decode("site-1", json.dumps(frame()))
    assert isinstance(decoded, IngestFrame)
    view = decoded.sample_view()
    assert len(view) == 6 and "grid/Connected" in view and view.get("x/Y") is None
    sample = view["battery_1/Soc"]
    assert (sample.v, sample.t.timestamp()) == (55.5, T)


@pytest.mark.parametrize(
    "document",
    [
        frame(extra=1),
        frame(seq=-1),
        frame(seq=True),
        frame(seq=1.0),
        frame(ts="2026-01-01T12:00:00"),  # no offset
        frame(ts=5),
        frame(backfill="yes"),
        frame(channels=[]),
        {k: v for k, v in frame().items() if k != "channels"},
        with_channel({"v": 1.0}),
        with_channel({"v": 1.0, "t": AT, "q": 1}),
        with_channel({"v": [1], "t": AT}),
        with_channel({"v": {"x": 1}, "t": AT}),
        with_channel({"v": "x" * 257, "t": AT}),
        with_channel({"v": 1.0, "t": "yesterday"}),
        with_channel({"v": 1.0, "t": 1700000000}),
        with_channel({"v": 1.0, "t": "20260101T120000Z"}),
        with_channel({"v": 1.0, "t": AT}, address="Battery/Soc"),
        with_channel({"v": 1.0, "t": AT}, address="battery"),
        with_channel(5),
    ],
)
def test_what_the_wire_refuses_is_refused_with_the_same_error(document: dict[str, Any]) -> None:
    raw = json.dumps(document)
    decoder = TelemetryDecoder()
    latest: dict[str, tuple[object, float]] = {"a/B": (1.0, 0.0)}
    decoded = decoder.decode("site-1", raw, latest)
    assert isinstance(decoded, FrameError)
    assert decoded == EDGE_TO_CLOUD.decode(raw)
    assert latest == {"a/B": (1.0, 0.0)}  # a refused frame changes nothing


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"telemetry"', ""])
def test_what_is_not_a_json_object_is_malformed_as_before(raw: str) -> None:
    assert TelemetryDecoder().decode("site-1", raw) == EDGE_TO_CLOUD.decode(raw)


def test_a_lone_surrogate_in_a_text_value_is_refused_as_the_wire_does() -> None:
    raw = json.dumps(with_channel({"v": "\ud800", "t": AT}))
    decoded = TelemetryDecoder().decode("site-1", raw)
    assert isinstance(decoded, FrameError) and decoded.code == "malformed_json"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e999"])
def test_non_finite_numbers_are_valid_frames_without_a_row(token: str) -> None:
    raw = json.dumps(frame(channels={"a/B": {"v": 1.0, "t": AT}})).replace("1.0", token)
    decoder = TelemetryDecoder()
    decoded = decoder.decode("site-1", raw)
    assert isinstance(decoded, IngestFrame)
    assert decoder.general == 1  # the wire decoder's call
    assert decoded.rows == []


def test_an_integer_beyond_a_float_is_valid_without_a_row() -> None:
    decoded = TelemetryDecoder().decode("site-1", json.dumps(with_channel({"v": 10**400, "t": AT})))
    assert isinstance(decoded, IngestFrame) and decoded.rows == []


def test_latest_values_only_move_forward() -> None:
    decoder = TelemetryDecoder()
    latest: dict[str, tuple[object, float]] = {}
    decoder.decode("site-1", json.dumps(with_channel({"v": 2.0, "t": AT})), latest)
    older = "2026-01-01T11:50:00Z"
    backfill = frame(channels={"a/B": {"v": 1.0, "t": older}}, backfill=True)
    decoded = decoder.decode("site-1", json.dumps(backfill), latest)
    assert isinstance(decoded, IngestFrame) and decoded.backfill
    assert latest == {"a/B": (2.0, T)}
    assert [r[3] for r in decoded.rows] == [1.0]  # stored all the same


@pytest.mark.parametrize("quick", [True, False])
def test_only_the_named_channels_latest_values_are_kept_but_every_row_is(quick: bool) -> None:
    decoder = TelemetryDecoder(latest_channels={"Soc", "ActivePower"})
    latest: dict[str, tuple[object, float]] = {}
    document = frame()
    if not quick:  # an unknown field: the wire decoder decides, and keeps the same values
        document["channels"]["grid/Connected"] = {"v": float("nan"), "t": AT}
    decoded = decoder.decode("site-1", json.dumps(document), latest)
    assert isinstance(decoded, IngestFrame)
    assert (decoder.fast, decoder.general) == ((1, 0) if quick else (0, 1))
    assert sorted(latest) == [
        "battery_1/ActivePower",
        "battery_1/Soc",
        "load/ActivePower",
        "pv_1/ActivePower",
    ]
    assert latest["battery_1/Soc"] == (55.5, T)
    assert len(decoded.rows) == (5 if quick else 4)  # every channel stored (None and NaN: no row)


def test_other_frames_go_through_the_wire_decoder() -> None:
    ack = {
        "type": "ack",
        "command_id": "0b6c6f3e-8f55-4f7e-9a43-1f7d2f0d7a11",
        "status": "executed",
        "at": AT,
    }
    assert isinstance(TelemetryDecoder().decode("site-1", json.dumps(ack)), EdgeAck)
    unknown = json.dumps({"type": "hello"})
    assert TelemetryDecoder().decode("site-1", unknown) == EDGE_TO_CLOUD.decode(unknown)


def test_binary_frames_decode_alike() -> None:
    decoded = TelemetryDecoder().decode("site-1", json.dumps(frame()).encode())
    assert isinstance(decoded, IngestFrame) and len(decoded.rows) == 5


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
_TIMES = st.sampled_from([AT, "2026-01-01T14:00:01+02:00", "2026-01-01 12:00:00Z", "x", 5])
_ADDRESSES = st.sampled_from(["a/B", "battery_1/Soc", "_cycle/Index", "A/b", "a/", "a/B c"])


@st.composite
def near_valid_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A valid frame, then a few of the changes a broken or hostile edge would make."""
    document = frame()
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["drop", "extra", "field", "sample", "value", "time"]))
        if change == "drop":
            document.pop(draw(st.sampled_from(sorted(document))), None)
        elif change == "extra":
            document[draw(st.text(max_size=8))] = draw(_JSON)
        elif change == "field":
            document[draw(st.sampled_from(["seq", "ts", "backfill", "channels"]))] = draw(_JSON)
        elif isinstance(document.get("channels"), dict):
            sample = {"v": 1.0, "t": AT}
            if change == "value":
                sample["v"] = draw(_JSON)
            elif change == "time":
                sample["t"] = draw(_TIMES)
            else:
                sample = draw(_JSON)
            document["channels"][draw(_ADDRESSES)] = sample
    return document


@settings(max_examples=400, deadline=None)
@given(near_valid_frames())
def test_any_near_valid_frame_gets_the_wire_decoders_verdict(document: dict[str, Any]) -> None:
    raw = json.dumps(document)
    decoded = TelemetryDecoder().decode("site-1", raw, {})
    reference = EDGE_TO_CLOUD.decode(raw)
    if isinstance(reference, FrameError):
        assert decoded == reference
    else:
        assert isinstance(reference, EdgeTelemetry) and isinstance(decoded, IngestFrame)
        assert decoded.rows == rows_from_frame("site-1", reference.channels)
        assert (decoded.seq, decoded.ts, decoded.backfill) == (
            reference.seq,
            reference.ts,
            reference.backfill,
        )
