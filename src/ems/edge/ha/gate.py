"""The runtime's seams for high availability: a gate and a state hook.

A single-box edge has neither (``None``) and runs as it always did.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ControlGate"]


class ControlGate(Protocol):
    def may_control(self) -> bool:
        """Whether this edge may run its controllers and write to devices right now."""
        ...

    def may_write(self) -> bool:
        """Asked by a driver thread right before each device write."""
        ...
