"""The edge's execution log: one durable line per command a controller applied.

Every time the cycle applies a command (a controller answered it
``executed`` and its output was written), one JSON object is appended to
``executions.jsonl`` in the edge's data directory::

    {"command_id": "…", "device": "battery_1", "action": "set_active_power",
     "value": -2500, "applied_at": "2026-01-01T00:00:00.000Z"}

``applied_at`` is the start of the cycle that applied it (UTC). A command
answered ``executed`` from the edge's record of commands taken (a repeated
delivery) was not applied again and gets no line. So the file is the
evidence for "executed at most once, and never after its terminal failure":
a command id appears in it at most once, and never for a command that ended
``failed`` or ``rejected``. The chaos suite checks exactly that.

Why not on the cycle's critical path. The line is written with one
``os.write`` on an ``O_APPEND`` descriptor, inline: a few microseconds into
the page cache, once per operator command (never per cycle), and once it
returns the line survives a crash of this process (SIGKILL included),
because it is in the kernel. The slow part, ``fsync`` (milliseconds on an
SSD, up to seconds on a busy SD card), runs on a background thread, which
syncs everything written since its last sync in one call (group commit). A
power cut can therefore lose the last lines written less than one sync ago;
a process crash loses none.

Failures never stop the edge: a write that fails is logged and counted
(:attr:`ExecutionLog.write_errors`). A line torn by a power cut is skipped
by :func:`read_executions`, and the next line starts on a fresh line.

Rotation. Once the live file reaches ``max_bytes``, the background thread
renames it to a segment (``executions.<n>.jsonl``) and starts a new one; at
most ``keep_files`` files are kept, the live one included (one more while a
rotation is under way: the oldest goes only once what it still holds is on
disk elsewhere). The log is also the edge's second record of the commands it
applied: at start, the ids it holds that the cloud may still deliver again
(applied less than ``keep_s`` ago, see :mod:`ems.edge.redelivery`) are
restored into the record of commands taken, so they are never executed again
even if that record was lost. So when the oldest segment goes, its lines
still inside that window are carried into the next segment first
(crash-safe, see :mod:`ems.edge.execution_files`): the files may then hold
more than ``keep_files`` × ``max_bytes`` when more commands than that were
applied within the window (a line is about 200 bytes, so 1 MB holds 5,000
commands).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.clock import Clock, RealClock
from ems.dal import Value
from ems.edge import execution_files as files
from ems.edge.redelivery import REDELIVERY_WINDOW_S
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = [
    "DEFAULT_KEEP_FILES",
    "DEFAULT_MAX_BYTES",
    "EXECUTIONS_FILE",
    "Execution",
    "ExecutionLog",
    "ExecutionSink",
    "read_executions",
]

log = logging.getLogger(__name__)

#: The log's name in the edge's data directory.
EXECUTIONS_FILE = "executions.jsonl"
#: The live file is rotated at this size [bytes] (about 5,000 commands).
DEFAULT_MAX_BYTES = 1_000_000
#: Files kept, the live one included.
DEFAULT_KEEP_FILES = 5


@dataclass(frozen=True, slots=True)
class Execution:
    """One command applied to an output: ``applied_at`` in UTC epoch seconds [s]."""

    command_id: str
    device: str
    action: str
    value: Value
    applied_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "device": self.device,
            "action": self.action,
            "value": self.value,
            "applied_at": to_rfc3339(self.applied_at),
        }


#: Whatever takes the cycle's executions (the log, or a list in a test).
ExecutionSink = Callable[[Execution], None]


class ExecutionLog:
    """Appends :class:`Execution` lines to ``path``; fsync and rotation on a background thread.

    Call :meth:`record` from any thread (the cycle's); :meth:`close` syncs
    what is left and stops the thread. ``max_bytes`` [bytes] and
    ``keep_files`` (at least 2: the live file and one segment) bound the
    files; lines applied less than ``keep_s`` [s] before ``clock``'s time are
    carried forward instead of deleted.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep_files: int = DEFAULT_KEEP_FILES,
        keep_s: float = REDELIVERY_WINDOW_S,
        clock: Clock | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes!r}")
        if keep_files < 2:
            raise ValueError(f"keep_files must be at least 2, not {keep_files!r}")
        self.path = path
        self.max_bytes = max_bytes
        self.keep_files = keep_files
        self._keep_s = keep_s
        self._clock = clock or RealClock()
        self.write_errors = 0
        self.lines_written = 0
        self.rotations = 0
        self.rotation_errors = 0
        self.lines_carried = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # Serialises fsync and rotation (the thread's, and sync() from elsewhere).
        self._rotating = threading.Lock()
        files.remove_leftovers(path)
        self._bound()  # keep_files may have been lowered, or a crash interrupted a merge
        self._fd = self._open_live()
        self._terminate_torn_line()
        self._size_bytes = os.fstat(self._fd).st_size
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._closing = False
        self._syncer = threading.Thread(target=self._sync_loop, name="execution-log", daemon=True)
        self._syncer.start()

    def __call__(self, execution: Execution) -> None:
        self.record(execution)

    def record(self, execution: Execution) -> None:
        """Append one line (inline, a page-cache write); the fsync follows on the thread."""
        line = (json.dumps(execution.as_json(), separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._closing:
                log.error("execution log closed: command %s not logged", execution.command_id)
                self.write_errors += 1
                return
            try:
                written = os.write(self._fd, line)
            except OSError as exc:
                self.write_errors += 1
                log.error(
                    "execution log %s: command %s not logged: %s",
                    self.path,
                    execution.command_id,
                    exc,
                )
                return
            self._size_bytes += written
            if written != len(line):  # a full disk mid-line: end it so the next line is whole
                self.write_errors += 1
                log.error("execution log %s: short write for %s", self.path, execution.command_id)
                self._write_quietly(b"\n")
                return
            self.lines_written += 1
        self._dirty.set()

    def sync(self) -> None:
        """fsync what was written, then rotate if the live file reached ``max_bytes``.

        The background thread calls this after every write; callable from any
        thread (a test, or a caller that needs the lines on disk now).
        """
        with self._rotating:
            with self._lock:
                if self._closing:
                    return
                fd = self._fd
                due = self._size_bytes >= self.max_bytes
            try:
                os.fsync(fd)
            except OSError as exc:
                log.error("execution log %s: fsync failed: %s", self.path, exc)
            if due:
                self._rotate()

    def close(self) -> None:
        """Sync and close; later records are counted as errors. Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._dirty.set()
        self._syncer.join()
        with self._rotating:  # a sync() from another thread may be mid-rotation
            try:
                os.fsync(self._fd)
            except OSError as exc:
                log.error("execution log %s: final fsync failed: %s", self.path, exc)
            os.close(self._fd)

    # -- internals -------------------------------------------------------
    def _sync_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            if self._closing:
                return
            self.sync()

    def _open_live(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _rotate(self) -> None:
        """Live file to the next segment, a new live file, then the bound on files kept.

        Holds the record lock only for the rename and the open (no fsync), so
        the cycle never waits for the disk.
        """
        target = files.next_segment(self.path)
        with self._lock:
            old_fd = self._fd
            try:
                os.rename(self.path, target)
            except OSError as exc:
                self.rotation_errors += 1
                log.error("execution log %s: cannot rotate to %s: %s", self.path, target, exc)
                return
            try:
                self._fd = self._open_live()
            except OSError as exc:
                # Lines keep going to the renamed file, which is still read.
                self.rotation_errors += 1
                log.error("execution log %s: cannot start a new file: %s", self.path, exc)
                return
            self._size_bytes = 0
        try:
            os.fsync(old_fd)  # lines written since the last sync, now in the segment
            files.fsync_dir(self.path.parent)
        except OSError as exc:
            log.error("execution log %s: fsync after rotation failed: %s", self.path, exc)
        os.close(old_fd)
        self.rotations += 1
        self._bound()

    def _bound(self) -> None:
        """Merge the oldest segments away until ``keep_files`` files are left."""
        kept = files.segments(self.path)
        while len(kept) > self.keep_files - 1:
            oldest, into = kept[0], kept[1]
            cutoff_s = self._clock.time() - self._keep_s
            try:
                carried = files.merge_into(oldest, into, cutoff_s)
            except OSError as exc:
                self.rotation_errors += 1
                log.error("execution log: cannot merge %s into %s: %s", oldest, into, exc)
                return
            self.lines_carried += carried
            if carried:
                log.info(
                    "execution log: %d execution(s) the cloud may still deliver again "
                    "carried from %s into %s",
                    carried,
                    oldest.name,
                    into.name,
                )
            kept = kept[1:]

    def _terminate_torn_line(self) -> None:
        """After a power cut the last line may be cut short: start the next one fresh."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                log.warning("execution log %s ends in a torn line; it is skipped", self.path)
                self._write_quietly(b"\n")

    def _write_quietly(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
        except OSError as exc:
            log.error("execution log %s: %s", self.path, exc)


def read_executions(path: Path) -> list[Execution]:
    """Every whole line of the log at ``path`` and its rotated segments, oldest file first.

    Torn or foreign lines are skipped; a line in two files (a crash during a
    rotation) counts once.
    """
    out: list[Execution] = []
    taken: set[tuple[str, float]] = set()
    for file in files.log_files(path):
        for execution in _read_file(file):
            key = (execution.command_id, execution.applied_at)
            if key not in taken:
                taken.add(key)
                out.append(execution)
    return out


def _read_file(path: Path) -> list[Execution]:
    out: list[Execution] = []
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return out
    except OSError as exc:
        log.error("execution log %s cannot be read: %s", path, exc)
        return out
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            out.append(
                Execution(
                    command_id=str(raw["command_id"]),
                    device=str(raw["device"]),
                    action=str(raw["action"]),
                    value=raw["value"],
                    applied_at=parse_rfc3339(str(raw["applied_at"])),
                )
            )
        except (ValueError, KeyError, TypeError):
            log.warning("execution log %s: unreadable line skipped: %.80s", path, line)
    return out
