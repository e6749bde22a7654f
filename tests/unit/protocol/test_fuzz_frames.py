"""A fuzz of every frame parser, both directions: whatever arrives, a frame or a FrameError.

Starts from a valid example of every frame type of the wire contract and
mutates it the ways a broken or hostile peer would: a field dropped, an extra
field, a field's value replaced by any JSON (or by an injection string), the
type swapped, the document nested or truncated. Each decoder must answer with
one of its own frame types or a :class:`FrameError` with a stable code, never
raise; an accepted frame re-encodes to one that decodes to the same frame; a
refusal is always sendable as an ``error`` frame; ids a refusal names back are
only ever well-formed ones (they go into acks, logs and Redis keys).
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ems.protocol import (
    CLOUD_TO_EDGE,
    CLOUD_TO_UI,
    EDGE_TO_CLOUD,
    UI_TO_CLOUD,
    Decoder,
    FrameError,
    encode,
)

CID = "123e4567-e89b-42d3-a456-426614174000"
T = "2026-01-01T00:00:00.000Z"
SAMPLE = {"v": 1.5, "t": T}

#: One valid example of every frame, by the decoder that reads it.
VALID: dict[str, list[dict[str, Any]]] = {
    "ui_to_cloud": [
        {"type": "auth", "token": "a.b.c"},
        {"type": "subscribe", "edge_id": "site-1"},
        {"type": "unsubscribe", "edge_id": "site-1"},
        {
            "type": "command",
            "command_id": CID,
            "edge_id": "site-1",
            "device": "battery_1",
            "action": "set_active_power",
            "value": -2500,
            "issued_at": T,
            "ttl_s": 60,
        },
    ],
    "edge_to_cloud": [
        {"type": "auth", "edge_id": "site-1", "api_key": "k" * 40, "edge_time": T},
        {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]},
        {"type": "ack", "command_id": CID, "status": "executed", "reason": None, "at": T},
        {"type": "telemetry", "seq": 42, "ts": T, "channels": {"battery_1/Soc": SAMPLE}},
        {"type": "config_ack", "version": 3, "status": "rejected", "reason": "build_failed"},
    ],
    "cloud_to_edge": [
        {"type": "auth_ok", "server_time": T},
        {
            "type": "command",
            "command_id": CID,
            "device": "battery_1",
            "action": "set_mode",
            "value": "auto",
            "issued_at": T,
            "deadline": T,
            "user": "olga",
        },
        {"type": "telemetry_ack", "seq": 42},
        {"type": "error", "code": "invalid_payload", "detail": "x"},
        {"type": "config", "version": 3, "config": {"edge_id": "site-1"}},
    ],
    "cloud_to_ui": [
        {"type": "auth_ok", "user": "olga", "role": "operator", "server_time": T},
        {"type": "telemetry", "edge_id": "site-1", "ts": T, "channels": {"_sum/Power": SAMPLE}},
        {"type": "edge_status", "edge_id": "site-1", "online": True, "last_seen": None},
        {
            "type": "ack",
            "command_id": CID,
            "edge_id": "site-1",
            "status": "rejected",
            "reason": "replay",
            "detail": None,
            "at": T,
        },
        {"type": "error", "code": "malformed_json", "detail": None},
        {"type": "config_status", "edge_id": "site-1", "version": 2, "status": "pushed", "at": T},
    ],
}
DECODERS: dict[str, Decoder[Any]] = {
    "ui_to_cloud": UI_TO_CLOUD,
    "edge_to_cloud": EDGE_TO_CLOUD,
    "cloud_to_edge": CLOUD_TO_EDGE,
    "cloud_to_ui": CLOUD_TO_UI,
}
CODES = {"malformed_json", "unknown_type", "invalid_payload"}
EDGE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: What attackers put in ids and names: SQL, paths, NUL, control and odd unicode, length.
INJECTIONS = [
    "' OR '1'='1",
    "site-1'; DROP TABLE telemetry; --",
    "../../etc/passwd",
    "..\\..\\windows",
    "site-1\x00",
    "battery_1\r\nSet-Cookie: x",
    "ems:inflight:deadline",
    "*",
    "site-1 ",
    "ＳＩＴＥ",
    "батарея",
    "e\u0301",
    "\ud7ff\ue000",
    "\u202eevil",
    "a" * 10_000,
    "%00",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(INJECTIONS),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """(decoder name, raw text): a valid frame with one to three mutations."""
    direction = draw(st.sampled_from(sorted(VALID)))
    frame = dict(draw(st.sampled_from(VALID[direction])))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "extra", "replace", "inject", "retype", "nest"]))
        fields = sorted(frame)
        if how == "drop" and fields:
            frame.pop(draw(st.sampled_from(fields)))
        elif how == "extra":
            frame[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        elif how == "replace" and fields:
            frame[draw(st.sampled_from(fields))] = draw(json_values)
        elif how == "inject" and fields:
            frame[draw(st.sampled_from(fields))] = draw(st.sampled_from(INJECTIONS))
        elif how == "retype":
            frame["type"] = draw(
                st.sampled_from(["auth", "command", "ack", "telemetry", "error", "x", "", "AUTH"])
                | json_values
            )
        elif how == "nest":
            frame = {"type": frame.get("type"), "frame": frame}
    text = json.dumps(frame)
    if draw(st.booleans()) and len(text) > 2:  # sometimes truncated mid-document
        text = text[: draw(st.integers(1, len(text) - 1))]
    return direction, text


def _check(decoder: Decoder[Any], raw: str | bytes) -> None:
    result = decoder.decode(raw)
    if isinstance(result, FrameError):
        assert result.code in CODES, result
        error = result.frame()  # always sendable as an error frame
        assert isinstance(CLOUD_TO_UI.decode(encode(error)), type(error))
        assert result.command_id is None or UUID.match(result.command_id)
        assert result.edge_id is None or EDGE_ID.match(result.edge_id)
        assert len(result.detail) <= 1000
        return
    assert isinstance(result, BaseModel)
    assert result.model_dump()["type"] in decoder.types
    assert decoder.decode(encode(result)) == result  # what we accept, we can send on


def test_every_valid_example_decodes() -> None:
    for direction, frames in VALID.items():
        for frame in frames:
            result = DECODERS[direction].decode(json.dumps(frame))
            assert not isinstance(result, FrameError), (direction, frame, result)


@settings(
    max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(case=mutated())
def test_near_valid_frames_give_a_frame_or_a_frame_error(case: tuple[str, str]) -> None:
    direction, raw = case
    _check(DECODERS[direction], raw)
    # ... and so does every other endpoint's decoder (a frame sent to the wrong socket).
    for decoder in DECODERS.values():
        _check(decoder, raw.encode())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(document=json_values)
def test_arbitrary_json_gives_a_frame_or_a_frame_error(document: Any) -> None:
    for decoder in DECODERS.values():
        _check(decoder, json.dumps(document))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_give_a_frame_error(raw: bytes) -> None:
    for decoder in DECODERS.values():
        _check(decoder, raw)


def test_injection_strings_never_pass_as_ids_or_names() -> None:
    """Every id and name field refuses every injection string, with invalid_payload."""
    places = [
        ("ui_to_cloud", 3, "command_id"),
        ("ui_to_cloud", 3, "edge_id"),
        ("ui_to_cloud", 3, "device"),
        ("ui_to_cloud", 3, "action"),
        ("ui_to_cloud", 1, "edge_id"),
        ("edge_to_cloud", 0, "edge_id"),
        ("edge_to_cloud", 2, "command_id"),
        ("edge_to_cloud", 2, "reason"),
    ]
    for direction, index, name in places:
        for bad in INJECTIONS:
            frame = {**VALID[direction][index], name: bad}
            result = DECODERS[direction].decode(json.dumps(frame))
            assert isinstance(result, FrameError), (name, bad)
            assert result.code == "invalid_payload"
    for bad in INJECTIONS:  # channel names and device ids in telemetry and inventories
        telemetry = {**VALID["edge_to_cloud"][3], "channels": {bad: SAMPLE}}
        assert isinstance(EDGE_TO_CLOUD.decode(json.dumps(telemetry)), FrameError), bad
        bad_channel = {**VALID["edge_to_cloud"][3], "channels": {f"battery_1/{bad}": SAMPLE}}
        assert isinstance(EDGE_TO_CLOUD.decode(json.dumps(bad_channel)), FrameError), bad
        device = {"type": "inventory", "devices": [{"id": bad, "profile": "battery"}]}
        assert isinstance(EDGE_TO_CLOUD.decode(json.dumps(device)), FrameError), bad


def test_json_oddities() -> None:
    for raw in (
        '{"type": "subscribe", "edge_id": NaN}',
        '{"type": "subscribe", "edge_id": "site-1", "edge_id": "site-2"}',
        '{"type": "telemetry_ack", "seq": 1e400}',
        "[" * 10_000 + "]" * 10_000,
        '{"type": "subscribe", "edge_id": "\\ud800"}',
        "\ufeff{}",
        "",
        "null",
    ):
        for decoder in DECODERS.values():
            _check(decoder, raw)
