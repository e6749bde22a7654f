"""SunSpec errors, each with a stable reason code the driver seam can report.

::

    EmsError
    └── SunSpecError            reason: one of REASONS
        ├── sunspec_not_found   no ``SunS`` marker at 40000, 0 or 50000
        ├── model_truncated     a model's length runs past what the device answers
        ├── chain_too_long      no end marker (0xFFFF) within the register space
        ├── unknown_model       pysunspec2 ships no definition for a model id asked for
        ├── model_missing       the device lacks a model the mapping needs
        ├── modbus_exception    the device answered with a Modbus exception
        ├── timeout             the device did not answer in time
        ├── connection_failed   no connection could be opened
        └── bad_setpoint        a setpoint the device's control model cannot express
"""

from __future__ import annotations

from typing import Literal

from ems.errors import EmsError

Reason = Literal[
    "sunspec_not_found",
    "model_truncated",
    "chain_too_long",
    "unknown_model",
    "model_missing",
    "modbus_exception",
    "timeout",
    "connection_failed",
    "bad_setpoint",
]


class SunSpecError(EmsError):
    """A SunSpec device could not be discovered, read or written; ``reason`` says why."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail
