"""The fault schedule: which fault, when, for how long; random but seeded, so it replays.

A schedule is a list of :class:`Fault` with offsets from the start of the
traffic [s]. Faults run one after the other: each one starts ``gap_s``
after the previous one ended and everything recovered. Durations are part of
the schedule (PostgreSQL down for 30 s is driven by wall time); recovery is
waited for by condition.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["FAULT_KINDS", "Fault", "FaultKind", "make_schedule", "schedule_text"]

FaultKind = Literal[
    "edge_kill",  # SIGKILL the edge, restart it after duration_s
    "edge_freeze",  # SIGSTOP the edge, SIGCONT after duration_s
    "cloud_kill",  # SIGKILL a cloud process (target "a" or "b"), restart it after duration_s
    "redis_restart",  # stop redis-server cleanly and start it again (append-only file kept)
    "postgres_stop",  # pg_ctl stop -m fast, start again after duration_s
    "connections_drop",  # abort every edge connection at the proxy
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "edge_kill",
    "edge_freeze",
    "cloud_kill",
    "redis_restart",
    "postgres_stop",
    "connections_drop",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: ``gap_s`` of quiet traffic before it, then ``duration_s`` of the fault [s]."""

    kind: FaultKind
    gap_s: float
    duration_s: float = 0.0
    target: str = ""  # cloud_kill: "a" or "b"

    def __str__(self) -> str:
        target = f" {self.target}" if self.target else ""
        return f"{self.kind}{target} for {self.duration_s:.1f} s after {self.gap_s:.1f} s"


def _one(kind: FaultKind, rng: random.Random, postgres_down_s: float) -> Fault:
    gap_s = round(rng.uniform(3.0, 8.0), 1)
    match kind:
        case "edge_kill":
            return Fault(kind, gap_s, round(rng.uniform(1.0, 6.0), 1))
        case "edge_freeze":
            # Longer than the 5 s watchdog: commands sent meanwhile time out, and the
            # edge must not carry them out when it wakes.
            return Fault(kind, gap_s, round(rng.uniform(6.0, 10.0), 1))
        case "cloud_kill":
            return Fault(kind, gap_s, round(rng.uniform(0.5, 3.0), 1), rng.choice("ab"))
        case "postgres_stop":
            return Fault(kind, gap_s, postgres_down_s)
        case _:
            return Fault(kind, gap_s)


def make_schedule(seed: int, rounds: int, *, postgres_down_s: float = 30.0) -> list[Fault]:
    """``rounds`` rounds, each with every fault kind once in a random order."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    for _ in range(rounds):
        kinds = list(FAULT_KINDS)
        rng.shuffle(kinds)
        faults.extend(_one(kind, rng, postgres_down_s) for kind in kinds)
    return faults


def schedule_text(seed: int, faults: list[Fault]) -> str:
    lines = [f"seed {seed}: {len(faults)} faults"]
    lines += [f"  {i + 1:3d}. {fault}" for i, fault in enumerate(faults)]
    return "\n".join(lines)
