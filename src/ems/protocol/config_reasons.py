"""The stable reason codes of config sync (DESIGN section 16).

The cloud refuses a config it will not store with one of the first group (HTTP
422, ``{"reason": …}``); an edge answers a push it did not apply with a
``config_ack`` ``rejected`` carrying one of the second. Like every reason code,
each is a lower_snake string on the wire and is never renamed.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BUILD_FAILED",
    "DEVICE_NOT_READY",
    "INVALID_CONFIG",
    "INVALID_YAML",
    "NOT_SUPPORTED",
    "RESTART_REQUIRED",
    "STALE_VERSION",
    "TOO_LARGE",
    "WRONG_EDGE",
]

# Refused by the cloud before it stores a version (and INVALID_CONFIG, WRONG_EDGE by the edge too).
TOO_LARGE: Final = "too_large"
INVALID_YAML: Final = "invalid_yaml"
INVALID_CONFIG: Final = "invalid_config"  # the detail names the field
WRONG_EDGE: Final = "wrong_edge"

# Rejected by the edge; the config it ran before keeps running.
STALE_VERSION: Final = "stale_version"  # a newer version is already applied
BUILD_FAILED: Final = "build_failed"  # a device, driver or controller could not be made
DEVICE_NOT_READY: Final = "device_not_ready"  # a new device did not answer its first read
RESTART_REQUIRED: Final = "restart_required"  # changes sections applied only at start
NOT_SUPPORTED: Final = "not_supported"  # the edge runs without config sync
