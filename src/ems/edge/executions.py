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
The file is not rotated: a line is about 200 bytes, so 10,000 commands
make 2 MB.
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

from ems.dal import Value
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["EXECUTIONS_FILE", "Execution", "ExecutionLog", "ExecutionSink", "read_executions"]

log = logging.getLogger(__name__)

#: The log's name in the edge's data directory.
EXECUTIONS_FILE = "executions.jsonl"


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
    """Appends :class:`Execution` lines to ``path``; fsync on a background thread.

    Call :meth:`record` from any thread (the cycle's); :meth:`close` syncs
    what is left and stops the thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write_errors = 0
        self.lines_written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._terminate_torn_line()
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
            if written != len(line):  # a full disk mid-line: end it so the next line is whole
                self.write_errors += 1
                log.error("execution log %s: short write for %s", self.path, execution.command_id)
                self._write_quietly(b"\n")
                return
            self.lines_written += 1
        self._dirty.set()

    def close(self) -> None:
        """Sync and close; later records are counted as errors. Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._dirty.set()
        self._syncer.join()
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
            try:
                os.fsync(self._fd)
            except OSError as exc:
                log.error("execution log %s: fsync failed: %s", self.path, exc)

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
    """Every whole line of the log, in file order (torn or foreign lines skipped)."""
    out: list[Execution] = []
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
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
