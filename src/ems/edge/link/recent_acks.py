"""The final acks of the last few seconds, on disk, so a restarted edge sends them again.

:class:`~ems.edge.link.dispatcher.AckOutbox` sends again, on every new
connection, the final acks it sent within the resend window (a cloud process
that died, or a connection that broke, right after the socket took one may
never have read it, and the watchdog would report ``edge_timeout`` for a
command that ran). Kept only in memory, that list died with the edge: a final
ack sent just before a SIGKILL was never sent again. :class:`RecentAcks` keeps
it in ``recent-acks.jsonl`` in the edge's state directory, one line per final
ack queued or sent::

    {"t": 1767225600.25, "ack": {"type": "ack", "command_id": "…", "status": "executed", …}}

``t`` is when it was queued or sent (UTC epoch seconds); an ack queued and
never sent before the process died is sent by the next one too.

Durability. A line is one ``os.write`` on an ``O_APPEND`` file, inline: a few
microseconds into the page cache, after which a crash of the process
(SIGKILL included) cannot lose it. There is no fsync, on purpose: an entry is
useful for the resend window (10 s by default), less than a machine takes to
come back from a power cut, so a power cut loses only entries that would have
expired anyway; a line it tore is skipped when read.

Bounded. Once more lines were appended since the last compaction than
``max(COMPACT_MIN_LINES, 2 × the entries still inside the window)``, the
entries inside the window are written to a new file that is renamed over the
journal (atomic: a crash leaves the old file or the new one, never a mix). So
the file holds at most about three windows' worth of final acks.

Failures never stop the edge: an unreadable file or line is skipped with a
log; a write that fails is logged and counted (:attr:`RecentAcks.write_errors`),
and the list in memory still serves this process.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ems.clock import Clock
from ems.protocol import EdgeAck, encode

__all__ = ["COMPACT_MIN_LINES", "RECENT_ACKS_FILE", "RecentAcks"]

log = logging.getLogger(__name__)

#: The journal's name in the edge's state directory.
RECENT_ACKS_FILE = "recent-acks.jsonl"
#: Lines appended before a compaction is considered (so a quiet edge rewrites rarely).
COMPACT_MIN_LINES = 256


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    t: float = Field(allow_inf_nan=False)  # UTC epoch seconds [s]
    ack: EdgeAck


class RecentAcks:
    """The journal of final acks queued or sent in the last ``window_s`` [s].

    Wall time from ``clock`` (the entries must outlive the process, and a
    monotonic clock does not). Used from the link's event loop only.
    """

    def __init__(self, path: Path, clock: Clock, window_s: float) -> None:
        if not window_s > 0:  # also refuses NaN
            raise ValueError(f"window_s must be positive, not {window_s!r}")
        self.path = path
        self._clock = clock
        self._window_s = window_s
        self.write_errors = 0
        self.lines_skipped = 0
        self._entries: deque[tuple[float, str]] = deque()  # (t, line), oldest first
        self._appended = 0  # lines appended since the last compaction
        self._fd: int | None = None
        self._loaded = self._read()
        self._compact()  # start from a file holding only what is still useful
        self._open()

    # -- the journal -----------------------------------------------------
    def load(self) -> list[tuple[float, EdgeAck]]:
        """The acks a previous process queued or sent within the window, as
        ``(age_s, ack)``, oldest first; one per command id and status, its latest."""
        now_s = self._clock.time()
        latest: dict[tuple[str, str], tuple[float, EdgeAck]] = {}
        for t, ack in self._loaded:
            if t >= now_s - self._window_s:
                latest[(ack.command_id, ack.status)] = (t, ack)
        out = sorted(latest.values(), key=lambda entry: entry[0])
        # A wall clock stepped back makes an entry look younger, never negative in age.
        return [(max(0.0, now_s - t), ack) for t, ack in out]

    def append(self, ack: EdgeAck) -> None:
        """Journal ``ack`` as queued or sent now (inline: one write to the page cache)."""
        t = self._clock.time()
        line = f'{{"t":{t!r},"ack":{encode(ack)}}}\n'
        self._entries.append((t, line))
        self._appended += 1
        if self._fd is not None:
            try:
                os.write(self._fd, line.encode())
            except OSError as exc:
                self.write_errors += 1
                log.error("recent acks %s: %s not journaled: %s", self.path, ack.command_id, exc)
        if self._appended >= max(COMPACT_MIN_LINES, 2 * self._live()):
            self._compact()
            self._open()

    def close(self) -> None:
        """Close the file (its lines stay for the next process). Idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- internals -------------------------------------------------------
    def _live(self) -> int:
        """Drop the entries past the window; returns how many are left."""
        cutoff_s = self._clock.time() - self._window_s
        while self._entries and self._entries[0][0] < cutoff_s:
            self._entries.popleft()
        return len(self._entries)

    def _read(self) -> list[tuple[float, EdgeAck]]:
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("recent acks %s cannot be read (%s); none sent again", self.path, exc)
            return []
        out: list[tuple[float, EdgeAck]] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                entry = _Entry.model_validate_json(line)
            except ValidationError:
                self.lines_skipped += 1
                log.warning("recent acks %s: unreadable line skipped: %.80s", self.path, line)
                continue
            out.append((entry.t, entry.ack))
            self._entries.append((entry.t, line + "\n"))
        return out

    def _compact(self) -> None:
        """Rewrite the file with the entries still inside the window (tmp, then rename)."""
        self.close()
        self._live()
        self._appended = 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text("".join(line for _, line in self._entries), "utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            self.write_errors += 1
            log.error("recent acks %s: cannot rewrite: %s", self.path, exc)

    def _open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self._fd = None
            self.write_errors += 1
            log.error(
                "recent acks %s cannot be written (%s): final acks sent just before a "
                "restart will not be sent again",
                self.path,
                exc,
            )
