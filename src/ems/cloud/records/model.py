"""What a command record is: the command as accepted, plus every status it went through.

Times are UTC epoch seconds (``float``) with microsecond resolution, the
resolution PostgreSQL keeps, so a time read back from any backend compares
equal to the time written. They become RFC 3339 strings only in
:meth:`CommandRecord.to_api`.

**Which status is current.** Statuses can reach the records out of order when
several cloud processes report on one command, so every copy (Redis, SQLite,
PostgreSQL, the merge of two copies) applies the same rule,
:func:`supersedes`: a terminal status is final (DESIGN section 4: exactly one
per command), and among progress statuses the later ``at`` wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from ems.protocol.statuses import TERMINAL
from ems.timefmt import parse_rfc3339, to_rfc3339, to_rfc3339_us

__all__ = [
    "TERMINAL",
    "CommandInfo",
    "CommandRecord",
    "CommandStore",
    "StatusChange",
    "StatusEvent",
    "TraceEntry",
    "merge_records",
    "micros",
    "supersedes",
    "to_micro_s",
]


def to_micro_s(epoch_s: float) -> float:
    """``epoch_s`` rounded to whole microseconds, as ``datetime`` and PostgreSQL keep it."""
    return datetime.fromtimestamp(epoch_s, UTC).timestamp()


def micros(epoch_s: float) -> int:
    """Integer microseconds: a time key that survives every backend's round trip."""
    return round(epoch_s * 1_000_000)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One step of a command's life, as the dispatcher reported it."""

    status: str  # received, queued, delivered, rejected, executed, failed
    reason: str | None  # lower_snake code for rejected/failed, else usually None
    detail: str | None  # human-readable
    at: float  # UTC epoch s (µs resolution)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def key(self) -> tuple[str, int]:
        """Identity of the event across copies: the same status at the same instant."""
        return self.status, micros(self.at)

    def to_json(self) -> str:
        return json.dumps(
            {"status": self.status, "reason": self.reason, "detail": self.detail, "at": self.at},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StatusEvent:
        e: dict[str, Any] = json.loads(text)
        return cls(e["status"], e["reason"], e["detail"], float(e["at"]))

    def to_api(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "at": to_rfc3339(self.at),
        }


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """What does not change over a command's life."""

    command_id: str
    edge_id: str
    user: str
    device: str
    action: str
    value: object  # number (W, …), mode name or switch: JSON-compatible
    issued_at: float  # UTC epoch s, as the dashboard stamped it
    ttl_s: int  # how long it may wait in an offline edge's queue [s]
    created_at: float  # UTC epoch s of its first status at the cloud

    def to_json(self) -> str:
        return json.dumps(
            {
                "command_id": self.command_id,
                "edge_id": self.edge_id,
                "user": self.user,
                "device": self.device,
                "action": self.action,
                "value": self.value,
                "issued_at": self.issued_at,
                "ttl_s": self.ttl_s,
                "created_at": self.created_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> CommandInfo:
        c: dict[str, Any] = json.loads(text)
        return cls(
            c["command_id"],
            c["edge_id"],
            c["user"],
            c["device"],
            c["action"],
            c["value"],
            float(c["issued_at"]),
            int(c["ttl_s"]),
            float(c["created_at"]),
        )

    @classmethod
    def from_dispatch(
        cls,
        *,
        command_id: str,
        edge_id: str,
        user: str,
        device: str,
        action: str,
        value: object,
        issued_at: str,
        ttl_s: int,
        created_at: float,
    ) -> CommandInfo:
        """From the dispatcher's fields (``issued_at`` is its RFC 3339 string)."""
        return cls(
            command_id,
            edge_id,
            user,
            device,
            action,
            value,
            to_micro_s(parse_rfc3339(issued_at)),
            ttl_s,
            to_micro_s(created_at),
        )


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One audit waypoint of a command, from the cloud or from the edge it was sent to.

    ``record_id`` identifies it (the edge picks a UUID, the cloud its own
    ``c…`` id), so storing it again adds nothing. ``seq`` orders entries
    with the same ``at`` from one source.
    """

    command_id: str
    record_id: str
    source: str  # "cloud" | "edge"
    edge_id: str | None
    event: str  # cloud.received, edge.request_written, controller.executed, …
    status: str | None
    reason: str | None
    detail: str | None
    at: float  # UTC epoch s (µs resolution), on the source's clock
    seq: int

    def to_api(self) -> dict[str, Any]:
        return {
            "at": to_rfc3339_us(self.at),
            "source": self.source,
            "event": self.event,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status change of one command: what the recorder writes."""

    command: CommandInfo
    event: StatusEvent


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A command and its status history, oldest first.

    ``status``, ``reason`` and ``updated_at`` describe the current status (see
    :func:`supersedes`); listings leave ``history`` empty.
    """

    command: CommandInfo
    status: str
    reason: str | None
    terminal: bool
    updated_at: float  # UTC epoch s of the current status
    history: tuple[StatusEvent, ...] = ()

    @classmethod
    def from_events(cls, command: CommandInfo, events: Iterable[StatusEvent]) -> CommandRecord:
        """The record after ``events``, oldest first by their time (ties: in the order
        given, which is the order written). Needs at least one event.

        Sorted because the order written is not the order things happened: each cloud
        process records the statuses it saw, and their writes can cross."""
        history = tuple(sorted(events, key=lambda e: e.at))
        current = history[0]
        for event in history[1:]:
            if supersedes(current, event):
                current = event
        return cls(command, current.status, current.reason, current.terminal, current.at, history)

    def to_api(self, *, with_history: bool = True) -> dict[str, Any]:
        c = self.command
        out: dict[str, Any] = {
            "command_id": c.command_id,
            "edge_id": c.edge_id,
            "user": c.user,
            "device": c.device,
            "action": c.action,
            "value": c.value,
            "issued_at": to_rfc3339(c.issued_at),
            "ttl_s": c.ttl_s,
            "created_at": to_rfc3339(c.created_at),
            "status": self.status,
            "reason": self.reason,
            "terminal": self.terminal,
            "updated_at": to_rfc3339(self.updated_at),
        }
        if with_history:
            out["history"] = [e.to_api() for e in self.history]
        return out


def supersedes(current: StatusEvent, new: StatusEvent) -> bool:
    """Whether ``new`` becomes the command's status when it follows ``current``.

    A terminal status is never replaced; a terminal status replaces any
    progress status; between progress statuses the later one (ties: the one
    reported last) wins.
    """
    if current.terminal:
        return False
    return new.terminal or new.at >= current.at


def merge_records(durable: CommandRecord | None, hot: CommandRecord | None) -> CommandRecord | None:
    """One record from the database copy and the Redis copy of the same command.

    The events only the hot copy has (written there first, not yet in the
    database) are added to the database's, and the history is ordered by time
    (:meth:`CommandRecord.from_events`). Either copy may be missing: the hot one
    expires after a day, the durable one lags by a batch.
    """
    if durable is None or hot is None:
        return durable or hot
    known = {e.key() for e in durable.history}
    extra = [e for e in hot.history if e.key() not in known]
    if not extra:
        return durable
    command = replace(
        durable.command,
        created_at=min(durable.command.created_at, hot.command.created_at),
    )
    return CommandRecord.from_events(command, [*durable.history, *extra])


class CommandStore(Protocol):
    """The durable copy of the records (SQLite or PostgreSQL)."""

    async def start(self) -> None:
        """Open the store and create or upgrade its schema. Idempotent; call on every start."""

    async def close(self) -> None:
        """Release connections and threads. The store is unusable afterwards."""

    async def write(self, changes: Sequence[StatusChange]) -> None:
        """Store ``changes`` durably, in order, all or nothing, before returning.

        Writing an event the store already holds (same command, status and
        ``at``: a batch retried after an unclear failure) changes nothing.
        """

    async def write_trace(self, entries: Sequence[TraceEntry]) -> None:
        """Store audit waypoints; one already stored (same command and ``record_id``)
        is skipped."""

    async def get_trace(self, command_id: str) -> list[TraceEntry]:
        """The command's waypoints ordered by ``at`` (then ``seq``); empty when none."""

    async def get(self, command_id: str) -> CommandRecord | None:
        """The record with its full history, or ``None`` when unknown."""

    async def list_for_edge(self, edge_id: str, limit: int) -> list[CommandRecord]:
        """The ``limit`` newest commands of ``edge_id`` (by ``created_at``), newest first,
        without their history."""
