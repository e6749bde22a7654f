"""The execution log's files: the live file, its rotated segments, and merging them.

::

    executions.jsonl          the live file, appended to by the cycle
    executions.<n>.jsonl      rotated segments; ``n`` grows with every rotation

A rotation renames the live file to the next segment. When more segments
exist than may be kept, the oldest is merged into the next oldest: its lines
that are still needed (applied less than ``keep_s`` ago, so the cloud may
still deliver that command again) are written, ahead of the next segment's
own lines, into a new file, which is fsynced and renamed over the next
segment; only then is the oldest deleted. A crash at any point leaves every
needed line in at least one file: before the rename, the half-written
``.tmp`` is deleted at the next start (:func:`remove_leftovers`); between the
rename and the delete, a line is in two files, and readers (and the next
merge) count an exact repeat (same command id, same ``applied_at``) once. A
real second execution has another ``applied_at`` (another cycle), so it is
never hidden.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from ems.timefmt import parse_rfc3339

__all__ = [
    "LineKey",
    "fsync_dir",
    "line_key",
    "log_files",
    "merge_into",
    "next_segment",
    "remove_leftovers",
    "segments",
]

log = logging.getLogger(__name__)

#: One execution: its command id and its ``applied_at`` as written.
LineKey = tuple[str, str]
_TMP = ".tmp"


def _pattern(live: Path) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(live.stem)}\.(\d+){re.escape(live.suffix)}$")


def segments(live: Path) -> list[Path]:
    """The rotated segments beside ``live``, oldest first."""
    pattern = _pattern(live)
    found: list[tuple[int, Path]] = []
    try:
        entries = list(live.parent.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.error("execution log: cannot list %s: %s", live.parent, exc)
        return []
    for entry in entries:
        match = pattern.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return [path for _, path in sorted(found)]


def log_files(live: Path) -> list[Path]:
    """Every file of the log, oldest first: the segments, then the live file."""
    return [*segments(live), live]


def next_segment(live: Path) -> Path:
    """The name the live file gets at the next rotation."""
    existing = segments(live)
    match = _pattern(live).match(existing[-1].name) if existing else None
    number = int(match.group(1)) + 1 if match else 1
    return live.with_name(f"{live.stem}.{number}{live.suffix}")


def line_key(line: bytes) -> tuple[LineKey, float] | None:
    """A line's identity and its ``applied_at`` [UTC epoch s]; ``None`` if unreadable."""
    try:
        raw = json.loads(line)
        command_id = str(raw["command_id"])
        applied_at = str(raw["applied_at"])
        return (command_id, applied_at), parse_rfc3339(applied_at)
    except (ValueError, KeyError, TypeError):
        return None


def merge_into(oldest: Path, into: Path, cutoff_s: float) -> int:
    """Carry ``oldest``'s lines applied at or after ``cutoff_s`` [UTC epoch s] into
    ``into``, then delete ``oldest``; returns how many lines were carried.

    Raises :class:`OSError` (nothing deleted) if a file cannot be read or written.
    """
    into_bytes = into.read_bytes()
    present: set[LineKey] = set()
    for line in into_bytes.splitlines():
        parsed = line_key(line)
        if parsed is not None:
            present.add(parsed[0])
    carried: list[bytes] = []
    for line in oldest.read_bytes().splitlines():
        if not line.strip():
            continue
        parsed = line_key(line)
        if parsed is None:
            log.warning("execution log %s: unreadable line dropped: %.80r", oldest, line)
            continue
        key, applied_at_s = parsed
        if applied_at_s >= cutoff_s and key not in present:
            carried.append(line)
            present.add(key)
    if carried:
        if into_bytes and not into_bytes.endswith(b"\n"):
            into_bytes += b"\n"  # a torn last line stays alone on its line
        tmp = into.with_name(into.name + _TMP)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = b"\n".join(carried) + b"\n" + into_bytes
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # the carried lines are on disk before the rename shows them
        finally:
            os.close(fd)
        os.replace(tmp, into)
        fsync_dir(into.parent)  # the rename is on disk before the delete
    oldest.unlink()
    fsync_dir(oldest.parent)
    return len(carried)


def remove_leftovers(live: Path) -> None:
    """Delete half-written merge files of a crash (their originals are intact)."""
    for segment_tmp in live.parent.glob(f"{live.stem}.*{live.suffix}{_TMP}"):
        try:
            segment_tmp.unlink()
            log.warning("execution log: removed %s, left by a crash mid-rotation", segment_tmp)
        except OSError as exc:
            log.error("execution log: cannot remove %s: %s", segment_tmp, exc)


def fsync_dir(directory: Path) -> None:
    """Make renames, creations and deletions in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
