"""What a chaos run must prove, as pure functions over what the run collected.

Each check returns a list of problems (empty: the check passed), each one a
sentence naming the command or the time span and the faults active then.

- :func:`check_statuses`: every command that reached the cloud has exactly one
  terminal status, and what the dashboards saw agrees with ``GET /api/commands/{id}``.
- :func:`check_executions`: the edge's execution log holds every command that
  ended ``executed`` exactly once, and none that ended otherwise.
- :func:`check_telemetry`: the stored history has no gap. See that function for
  what "no gap" means while the edge itself was dead or frozen.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ems.edge.executions import Execution
from ems.protocol.statuses import TERMINAL
from ems.timefmt import to_rfc3339

__all__ = [
    "TERMINAL",
    "CycleRow",
    "FaultWindow",
    "SentCommand",
    "check_executions",
    "check_statuses",
    "check_telemetry",
    "faults_between",
]


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """A fault as it happened: ``start``/``end`` in UTC epoch seconds [s]."""

    kind: str
    target: str
    start: float
    end: float

    def __str__(self) -> str:
        target = f" {self.target}" if self.target else ""
        return f"{self.kind}{target} [{to_rfc3339(self.start)} .. {to_rfc3339(self.end)}]"


@dataclass(slots=True)
class SentCommand:
    """A command a dashboard sent, and every ack that dashboard saw for it."""

    command_id: str
    dashboard: str  # which dashboard (cloud process) sent it
    value: Any
    ttl_s: int | None
    sent_at: float  # UTC epoch s
    acks: list[dict[str, Any]] = field(default_factory=list)  # from every dashboard
    seen_by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # dashboard -> acks


@dataclass(frozen=True, slots=True)
class CycleRow:
    """One stored cycle: its start time [s], ``_cycle/Index`` and ``_cycle/SkippedCycles``."""

    time_s: float
    index: int
    skipped: int


def faults_between(windows: Sequence[FaultWindow], start: float, end: float) -> str:
    """The faults active at some moment in ``[start, end]``, for a problem's sentence."""
    hit = [str(w) for w in windows if w.start <= end and w.end >= start]
    return "; ".join(hit) if hit else "no fault active"


def _terminal_events(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in record.get("history", []) if e.get("status") in TERMINAL]


def check_statuses(
    sent: Sequence[SentCommand],
    records: Mapping[str, Sequence[Mapping[str, Any] | None]],
    windows: Sequence[FaultWindow],
) -> list[str]:
    """``records`` maps a command id to its record as read from each cloud process.

    A command no process knows is fine only if no dashboard saw an ack for it
    (the frame never reached a cloud: the socket closed under it).
    """
    problems: list[str] = []
    for cmd in sent:
        where = f"(sent {to_rfc3339(cmd.sent_at)} on {cmd.dashboard}; faults: " + faults_between(
            windows, cmd.sent_at - 1, cmd.sent_at + 10
        )
        reads = records.get(cmd.command_id, [])
        known = [r for r in reads if r is not None]
        if not known:
            if cmd.acks:
                problems.append(
                    f"command {cmd.command_id}: acked {[a['status'] for a in cmd.acks]} "
                    f"but GET /api/commands/{{id}} does not know it {where})"
                )
            continue
        if len(known) != len(reads):
            problems.append(f"command {cmd.command_id}: known to some processes only {where})")
        outcomes = {(r.get("status"), r.get("reason"), r.get("terminal")) for r in known}
        if len(outcomes) > 1:
            problems.append(f"command {cmd.command_id}: processes disagree: {outcomes} {where})")
        record = known[0]
        terminal = _terminal_events(record)
        if len(terminal) != 1 or not record.get("terminal"):
            trace = [(e.get("status"), e.get("reason")) for e in record.get("history", [])]
            problems.append(
                f"command {cmd.command_id}: {len(terminal)} terminal statuses, history {trace} "
                f"{where})"
            )
            continue
        final = (terminal[0]["status"], terminal[0].get("reason"))
        if (record.get("status"), record.get("reason")) != final:
            problems.append(
                f"command {cmd.command_id}: status {record.get('status')} but its terminal "
                f"event is {final} {where})"
            )
        for dashboard, acks in cmd.seen_by.items():
            seen = [(a["status"], a.get("reason")) for a in acks if a["status"] in TERMINAL]
            if len(seen) > 1:
                problems.append(
                    f"command {cmd.command_id}: dashboard {dashboard} saw {len(seen)} terminal "
                    f"acks {seen} {where})"
                )
            elif seen and seen[0] != final:
                problems.append(
                    f"command {cmd.command_id}: dashboard {dashboard} saw {seen[0]}, the API "
                    f"says {final} {where})"
                )
    return problems


def check_executions(
    sent: Sequence[SentCommand],
    finals: Mapping[str, tuple[str, str | None]],
    executions: Sequence[Execution],
    windows: Sequence[FaultWindow],
) -> list[str]:
    """``finals``: command id -> terminal (status, reason) from the API."""
    problems: list[str] = []
    sent_at = {c.command_id: c.sent_at for c in sent}
    count = Counter(e.command_id for e in executions)
    for e in executions:
        final = finals.get(e.command_id)
        sent_s = sent_at.get(e.command_id, e.applied_at)
        faults = faults_between(windows, sent_s - 1, e.applied_at + 10)  # up to its ack's fate
        if count[e.command_id] > 1:
            problems.append(
                f"command {e.command_id} executed {count[e.command_id]} times, this one at "
                f"{to_rfc3339(e.applied_at)} (faults: {faults})"
            )
        if final is None:
            problems.append(
                f"command {e.command_id} executed at {to_rfc3339(e.applied_at)} but has no "
                f"terminal status (faults: {faults})"
            )
        elif final[0] != "executed":
            problems.append(
                f"command {e.command_id} executed at {to_rfc3339(e.applied_at)} although it "
                f"ended {final[0]}({final[1]}) (faults: {faults})"
            )
    for command_id, (status, _reason) in finals.items():
        if status == "executed" and count[command_id] == 0:
            at = sent_at.get(command_id, 0.0)
            faults = faults_between(windows, at - 1, at + 10)
            problems.append(
                f"command {command_id} ended executed but the edge's execution log does not "
                f"have it (sent {to_rfc3339(at)}; faults: {faults})"
            )
    return problems


def check_telemetry(
    rows: Sequence[CycleRow],
    windows: Sequence[FaultWindow],
    *,
    end_s: float,
    period_s: float,
) -> list[str]:
    """No gap in the stored history of one edge, from its first cycle to ``end_s``.

    "No gap" while the edge process itself was dead or stopped cannot mean one
    row per wall-clock second: no cycle ran, so there was nothing to store.
    It means that **every cycle the edge ran is stored**:

    - the cycle index restarts at 0 with every edge process (an
      *incarnation*); within one, consecutive stored indices ``a < b`` may
      differ by more than one only by cycles the edge never ran, which it
      counts itself in ``_cycle/SkippedCycles`` (a frozen edge resumes at the
      next deadline and skips the ones it slept through), so
      ``b - a - 1 == skipped(b) - skipped(a)``;
    - every incarnation starts at index 0 (its first cycles are stored too);
    - there is one incarnation per edge start (each ``edge_kill`` adds one),
      and one that ended in a SIGKILL is stored up to the kill, less the
      last two cycles (frames made in the last moment before a crash may
      not have reached durable storage yet);
    - the last incarnation is stored up to ``end_s`` (less two periods).

    ``rows`` need not be sorted.
    """
    problems: list[str] = []
    ordered = sorted(rows, key=lambda r: r.time_s)
    if not ordered:
        return ["no stored telemetry at all"]
    incarnations: list[list[CycleRow]] = [[ordered[0]]]
    for row in ordered[1:]:
        if row.index <= incarnations[-1][-1].index:
            incarnations.append([row])
        else:
            incarnations[-1].append(row)
    kills = sorted((w for w in windows if w.kind == "edge_kill"), key=lambda w: w.start)
    if len(incarnations) != len(kills) + 1:
        problems.append(
            f"{len(incarnations)} edge incarnations in the stored history "
            f"(starting {[to_rfc3339(i[0].time_s) for i in incarnations]}), expected "
            f"{len(kills) + 1} (one per start; {len(kills)} kills)"
        )
    tolerance_s = 2 * period_s + 0.5
    for n, inc in enumerate(incarnations):
        if inc[0].index != 0:
            first = inc[0]
            faults = faults_between(windows, first.time_s - first.index * period_s, first.time_s)
            problems.append(
                f"incarnation {n}: its first {first.index} cycles are missing, before "
                f"{to_rfc3339(first.time_s)} (faults: {faults})"
            )
        for a, b in itertools.pairwise(inc):
            missing = b.index - a.index - 1
            skipped = b.skipped - a.skipped
            if missing > skipped:
                problems.append(
                    f"telemetry gap: cycles {a.index + 1}..{b.index - 1} of incarnation {n} "
                    f"({missing - skipped} ran but are not stored) between "
                    f"{to_rfc3339(a.time_s)} and {to_rfc3339(b.time_s)} "
                    f"(faults: {faults_between(windows, a.time_s, b.time_s)})"
                )
        if n < len(kills):
            kill = kills[n]
            if inc[-1].time_s < kill.start - tolerance_s:
                problems.append(
                    f"incarnation {n}: stored only up to {to_rfc3339(inc[-1].time_s)}, but it "
                    f"ran until it was killed at {to_rfc3339(kill.start)} (faults: "
                    f"{faults_between(windows, inc[-1].time_s, kill.start)})"
                )
    last = ordered[-1]
    if last.time_s < end_s - tolerance_s:
        problems.append(
            f"stored telemetry ends at {to_rfc3339(last.time_s)}, the run at {to_rfc3339(end_s)}"
        )
    return problems
