"""The stable reason codes of ``rejected`` and ``failed`` acks and of ``error`` frames.

DESIGN section 4 lists them; each is a lower_snake string on the wire and is
never renamed (dashboards and operators' scripts match on it). Codes owned by
one contract live beside it and are re-exported here: the ``set_controller``
ones in :mod:`ems.protocol.controllers`, config sync's in
:mod:`ems.protocol.config_reasons`.
"""

from __future__ import annotations

from typing import Final

from ems.protocol.config_reasons import (
    BUILD_FAILED,
    DEVICE_NOT_READY,
    INVALID_CONFIG,
    INVALID_YAML,
    NOT_SUPPORTED,
    RESTART_REQUIRED,
    STALE_VERSION,
    TOO_LARGE,
    WRONG_EDGE,
)
from ems.protocol.controllers import (
    INVALID_PARAMS,
    OUT_OF_RANGE,
    UNKNOWN_CONTROLLER,
    UNKNOWN_PARAM,
)

__all__ = [
    "BUILD_FAILED",
    "DEVICE_NOT_READY",
    "DEVICE_REMOVED",
    "DEVICE_TIMEOUT",
    "DEVICE_WRITE_FAILED",
    "EDGE_OFFLINE",
    "EDGE_TIMEOUT",
    "EXCEEDS_DYNAMIC_LIMIT",
    "EXPIRED",
    "FORBIDDEN",
    "HA_NOT_REPLICATED",
    "INVALID_CONFIG",
    "INVALID_PARAMS",
    "INVALID_PAYLOAD",
    "INVALID_YAML",
    "NOT_LEADER",
    "NOT_SUPPORTED",
    "NO_TELEMETRY",
    "OUT_OF_RANGE",
    "QUEUE_FULL",
    "RATE_LIMITED",
    "REPLAY",
    "RESTART_REQUIRED",
    "REVALIDATION_FAILED",
    "STALE_TELEMETRY",
    "STALE_TIMESTAMP",
    "STALE_VERSION",
    "SUPERSEDED",
    "TIMEOUT_IN_QUEUE",
    "TOO_LARGE",
    "UNAUTHORIZED",
    "UNKNOWN_ACTION",
    "UNKNOWN_CONTROLLER",
    "UNKNOWN_DEVICE",
    "UNKNOWN_EDGE",
    "UNKNOWN_PARAM",
    "WRONG_EDGE",
]

# Refusals by the cloud, in the order of its checks (DESIGN section 4).
INVALID_PAYLOAD: Final = "invalid_payload"
UNAUTHORIZED: Final = "unauthorized"
FORBIDDEN: Final = "forbidden"
RATE_LIMITED: Final = "rate_limited"
REPLAY: Final = "replay"
STALE_TIMESTAMP: Final = "stale_timestamp"
UNKNOWN_EDGE: Final = "unknown_edge"
UNKNOWN_DEVICE: Final = "unknown_device"
UNKNOWN_ACTION: Final = "unknown_action"
EXCEEDS_DYNAMIC_LIMIT: Final = "exceeds_dynamic_limit"
STALE_TELEMETRY: Final = "stale_telemetry"
NO_TELEMETRY: Final = "no_telemetry"
QUEUE_FULL: Final = "queue_full"
EDGE_OFFLINE: Final = "edge_offline"

# Failures after the cloud accepted the command.
EDGE_TIMEOUT: Final = "edge_timeout"
TIMEOUT_IN_QUEUE: Final = "timeout_in_queue"
REVALIDATION_FAILED: Final = "revalidation_failed"
SUPERSEDED: Final = "superseded"
EXPIRED: Final = "expired"

# Failures at the edge (the ``reason`` of a ``failed`` command ack it sends).
DEVICE_TIMEOUT: Final = "device_timeout"  # the device did not confirm the write in time
DEVICE_WRITE_FAILED: Final = "device_write_failed"  # the device refused or the write failed
DEVICE_REMOVED: Final = "device_removed"  # a pushed config removed or replaced the device
NOT_LEADER: Final = "not_leader"  # HA: this box does not hold the control lease
HA_NOT_REPLICATED: Final = "ha_not_replicated"  # HA: the quorum did not commit it in time
