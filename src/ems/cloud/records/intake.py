"""Audit records from edges into the command traces, for commands sent to that edge only.

An edge may describe what it did with the commands the cloud sent it, never
write into another edge's commands: each record's command must be known (here,
or in the records) with the sending edge's id, else the record is refused and
the refusal audited (``cloud.trace_refused``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from ems.audit import AuditTrail
from ems.cloud.records.model import TraceEntry
from ems.cloud.records.recorder import Recorder
from ems.protocol import EdgeAudit, reasons

__all__ = ["EdgeTraceIntake"]

log = logging.getLogger(__name__)

_REMEMBER = 10_000  # owners of commands looked up in the records, newest kept


class EdgeTraceIntake:
    """``known_edge(command_id)`` names the edge a command this process tracks went to
    (``None``: not tracked here; the records are asked then)."""

    def __init__(
        self,
        recorder: Recorder,
        known_edge: Callable[[str], str | None],
        audit: AuditTrail,
        clock: Callable[[], float],
    ) -> None:
        self._recorder = recorder
        self._known_edge = known_edge
        self._audit = audit
        self._clock = clock
        # Looked-up owners (commands from before a restart, or another process's):
        # an edge resending its outbox must not cost one read per record.
        self._owners: OrderedDict[str, str] = OrderedDict()
        self.accepted = 0
        self.refused = 0

    async def accept(self, edge_id: str, frame: EdgeAudit) -> int:
        """Queue the frame's records that ``edge_id`` may write; returns how many."""
        owners: dict[str, str | None] = {}
        accepted = 0
        for record in frame.records:
            cid = record.command_id
            if cid not in owners:
                owners[cid] = await self._owner(cid)
            if owners[cid] != edge_id:
                self.refused += 1
                self._audit.record(
                    "cloud.trace_refused",
                    cid,
                    self._clock(),
                    edge_id=edge_id,
                    reason=reasons.FORBIDDEN,
                    detail=f"{record.event} from {edge_id}: not a command sent to it",
                )
                continue
            self._recorder.record_trace(
                TraceEntry(
                    cid,
                    record.id,
                    "edge",
                    edge_id,
                    record.event,
                    record.status,
                    record.reason,
                    record.detail,
                    record.at.timestamp(),
                    record.seq,
                )
            )
            accepted += 1
        self.accepted += accepted
        return accepted

    async def _owner(self, command_id: str) -> str | None:
        edge = self._known_edge(command_id) or self._owners.get(command_id)
        if edge is not None:
            return edge
        try:
            record = await self._recorder.get(command_id)
        except Exception as exc:
            log.warning("command %s unreadable; its edge records are refused: %r", command_id, exc)
            return None
        if record is None:
            return None
        self._owners[command_id] = record.command.edge_id
        while len(self._owners) > _REMEMBER:
            self._owners.popitem(last=False)
        return record.command.edge_id
