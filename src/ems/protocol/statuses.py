"""A command's statuses (DESIGN section 4), defined once for cloud, edge and tests.

``received``, ``queued`` and ``delivered`` are progress; ``rejected``,
``executed`` and ``failed`` are terminal: every command ends in exactly one
of them. The dashboard's copy (``web/src/lib/frames.ts``) is checked against
``ems protocol schema`` by a test.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "DELIVERED",
    "EXECUTED",
    "FAILED",
    "PROGRESS",
    "QUEUED",
    "RECEIVED",
    "REJECTED",
    "STATUSES",
    "TERMINAL",
    "AckStatus",
    "EdgeAckStatus",
    "is_terminal",
]

AckStatus = Literal["received", "queued", "delivered", "rejected", "executed", "failed"]
#: What an edge may report about a command (the cloud reports the rest).
EdgeAckStatus = Literal["delivered", "rejected", "executed", "failed"]

RECEIVED: Final = "received"
QUEUED: Final = "queued"
DELIVERED: Final = "delivered"
REJECTED: Final = "rejected"
EXECUTED: Final = "executed"
FAILED: Final = "failed"

#: In the order a command can pass through them.
STATUSES: Final = (RECEIVED, QUEUED, DELIVERED, REJECTED, EXECUTED, FAILED)
PROGRESS: Final = frozenset({RECEIVED, QUEUED, DELIVERED})
#: The final statuses; a command has exactly one of them.
TERMINAL: Final = frozenset({REJECTED, EXECUTED, FAILED})


def is_terminal(status: str) -> bool:
    return status in TERMINAL
