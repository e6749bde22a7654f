"""Decoding frames off the wire, with stable error codes for what is wrong.

Error codes: ``malformed_json`` (not JSON, or not a JSON object),
``unknown_type`` (a ``type`` this endpoint does not take), ``invalid_payload``
(missing or extra fields, wrong types, values out of their range).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ems.protocol import reasons
from ems.protocol.frames import (
    ClockPing,
    ClockPong,
    CloudToEdgeCommand,
    EdgeAck,
    EdgeAudit,
    EdgeAuth,
    EdgeAuthOk,
    EdgeConfigAck,
    EdgeConfigPush,
    EdgeInventory,
    EdgeStatus,
    EdgeTelemetry,
    ErrorFrame,
    TelemetryAck,
    UiAck,
    UiAlarm,
    UiAuth,
    UiAuthOk,
    UiCommand,
    UiConfigStatus,
    UiSubscribe,
    UiTelemetry,
    UiUnsubscribe,
)

__all__ = [
    "CLOUD_TO_EDGE",
    "CLOUD_TO_UI",
    "EDGE_TO_CLOUD",
    "UI_TO_CLOUD",
    "Decoder",
    "FrameError",
    "encode",
]

F = TypeVar("F", bound=BaseModel)
_EDGE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class FrameError:
    """Why a frame was refused. ``command_id`` is set when a command frame was
    readable enough to name it, so the refusal can be a ``rejected`` ack."""

    code: str
    detail: str
    frame_type: str | None = None
    command_id: str | None = None
    edge_id: str | None = None  # of a refused command, when it is a well-formed id

    def frame(self) -> ErrorFrame:
        return ErrorFrame(code=self.code, detail=self.detail)


class Decoder(Generic[F]):
    """Decodes the frames one endpoint accepts."""

    def __init__(self, *models: type[BaseModel]) -> None:
        self._types = frozenset(_literal(m) for m in models)
        # A union built at run time from the models given: a value, not a type to mypy.
        union: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
        self._adapter: TypeAdapter[Any] = TypeAdapter(union)

    @property
    def types(self) -> frozenset[str]:
        return self._types

    def decode(self, raw: str | bytes) -> F | FrameError:
        try:
            frame: F = self._adapter.validate_json(raw)
        except ValidationError as exc:
            return self._explain(raw, exc)
        return frame

    def _explain(self, raw: str | bytes, exc: ValidationError) -> FrameError:
        first = exc.errors(include_url=False)[0]
        kind = first["type"]
        if kind == "json_invalid":
            return FrameError("malformed_json", "frame is not valid JSON")
        try:
            document = json.loads(raw)
        except ValueError:
            return FrameError("malformed_json", "frame is not valid JSON")
        if not isinstance(document, dict):
            return FrameError("malformed_json", "frame must be a JSON object")
        frame_type = document.get("type")
        if (
            kind in ("union_tag_invalid", "literal_error")
            and isinstance(frame_type, str)
            and frame_type not in self._types
        ):
            return FrameError(
                "unknown_type",
                f"unknown frame type {frame_type[:40]!r} "
                f"(expected one of {', '.join(sorted(self._types))})",
            )
        if kind == "union_tag_not_found":
            return FrameError(reasons.INVALID_PAYLOAD, "frame has no 'type' field")
        edge_id = document.get("edge_id")
        command_id = document.get("command_id")
        known_id = (
            command_id if isinstance(command_id, str) and _UUID_RE.match(command_id) else None
        )
        return FrameError(
            reasons.INVALID_PAYLOAD,
            _describe(exc),
            frame_type if isinstance(frame_type, str) else None,
            known_id,
            edge_id if isinstance(edge_id, str) and _EDGE_ID_RE.match(edge_id) else None,
        )


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        # The first loc element of a tagged union is the tag; skip it.
        loc = [str(p) for p in err["loc"]]
        if len(loc) > 1 and err["loc"][0] not in ("type",) and isinstance(err["loc"][0], str):
            loc = loc[1:] if loc[0] in _TAGS else loc
        where = ".".join(loc) or "frame"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)[:1000]


def encode(frame: BaseModel) -> str:
    """The frame as compact JSON text, timestamps as RFC 3339 UTC."""
    return frame.model_dump_json()


def _literal(model: type[BaseModel]) -> str:
    annotation = model.model_fields["type"].annotation
    args: tuple[object, ...] = getattr(annotation, "__args__", ())
    return str(args[0])


_TAGS = {
    _literal(m)
    for m in (
        UiAuth,
        UiSubscribe,
        UiUnsubscribe,
        UiCommand,
        EdgeAuth,
        EdgeInventory,
        EdgeAck,
        EdgeTelemetry,
        EdgeAuthOk,
        CloudToEdgeCommand,
        TelemetryAck,
        ErrorFrame,
        UiAuthOk,
        UiTelemetry,
        EdgeStatus,
        UiAck,
        UiAlarm,
        EdgeAudit,
        ClockPing,
        ClockPong,
    )
}

#: What a dashboard may send the cloud.
UI_TO_CLOUD: Decoder[UiAuth | UiSubscribe | UiUnsubscribe | UiCommand] = Decoder(
    UiAuth, UiSubscribe, UiUnsubscribe, UiCommand
)
#: What an edge may send the cloud.
EDGE_TO_CLOUD: Decoder[
    EdgeAuth | EdgeInventory | EdgeAck | EdgeTelemetry | EdgeAudit | ClockPing | EdgeConfigAck
] = Decoder(EdgeAuth, EdgeInventory, EdgeAck, EdgeTelemetry, EdgeAudit, ClockPing, EdgeConfigAck)
#: What the cloud sends an edge.
CLOUD_TO_EDGE: Decoder[
    EdgeAuthOk | CloudToEdgeCommand | TelemetryAck | ErrorFrame | ClockPong | EdgeConfigPush
] = Decoder(EdgeAuthOk, CloudToEdgeCommand, TelemetryAck, ErrorFrame, ClockPong, EdgeConfigPush)
#: What the cloud sends a dashboard.
CLOUD_TO_UI: Decoder[
    UiAuthOk | UiTelemetry | EdgeStatus | UiAck | UiAlarm | UiConfigStatus | ErrorFrame
] = Decoder(UiAuthOk, UiTelemetry, EdgeStatus, UiAck, UiAlarm, UiConfigStatus, ErrorFrame)
