"""JSON Schema of every frame, for clients written in other languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ems.protocol import frames
from ems.protocol.statuses import STATUSES, TERMINAL

__all__ = ["frame_schemas"]

_ENDPOINTS: dict[str, tuple[type[BaseModel], ...]] = {
    "ui_to_cloud": (frames.UiAuth, frames.UiSubscribe, frames.UiUnsubscribe, frames.UiCommand),
    "cloud_to_ui": (
        frames.UiAuthOk,
        frames.UiTelemetry,
        frames.EdgeStatus,
        frames.UiAck,
        frames.UiAlarm,
        frames.UiConfigStatus,
        frames.ErrorFrame,
    ),
    "edge_to_cloud": (
        frames.EdgeAuth,
        frames.EdgeInventory,
        frames.EdgeAck,
        frames.EdgeTelemetry,
        frames.EdgeAudit,
        frames.ClockPing,
        frames.EdgeConfigAck,
    ),
    "cloud_to_edge": (
        frames.EdgeAuthOk,
        frames.CloudToEdgeCommand,
        frames.TelemetryAck,
        frames.ErrorFrame,
        frames.ClockPong,
        frames.EdgeConfigPush,
    ),
}


def frame_schemas() -> dict[str, Any]:
    """One JSON Schema document: ``$defs`` of every frame, grouped by direction."""
    models = sorted({m for ms in _ENDPOINTS.values() for m in ms}, key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "validation") for m in models], ref_template="#/$defs/{model}")
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["title"] = "EMS wire frames"
    # Not expressible as a frame's schema, yet part of the contract clients check.
    top["terminal_statuses"] = [s for s in STATUSES if s in TERMINAL]
    top["directions"] = {
        name: {"oneOf": [{"$ref": f"#/$defs/{m.__name__}"} for m in ms]}
        for name, ms in _ENDPOINTS.items()
    }
    return top
