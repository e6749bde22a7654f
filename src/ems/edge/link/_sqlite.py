"""What the edge's SQLite files share: error names and moving a damaged file aside."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

__all__ = ["CORRUPT", "UNUSABLE_FILE", "error_name", "move_aside"]

log = logging.getLogger(__name__)

# Errors at open after which the file cannot be used as it is: moving it aside
# and starting a fresh one is the only way to stay durable. Others (disk full,
# I/O errors, locks held by another process) would hit a fresh file as well,
# or mean the file is fine and in use: those fall back to memory.
UNUSABLE_FILE = (
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_PERM",
    "SQLITE_AUTH",
    "SQLITE_ERROR",  # a table or column missing: not a file this edge wrote
)
#: Errors in use that mean the file's content is damaged.
CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def error_name(exc: sqlite3.Error) -> str:
    """SQLite's name for the error (``SQLITE_CORRUPT``…); empty if it gave none."""
    return getattr(exc, "sqlite_errorname", None) or ""


def move_aside(path: Path, now_s: float) -> bool:
    """Rename the file (and its WAL and shared-memory files) to ``*.corrupt-<UTC time>``.

    Kept, not deleted, for a post-mortem. Above all, no old WAL may stay beside
    the fresh file, where SQLite would try to apply it. ``now_s`` is the UTC
    epoch time for the name [s].
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        for suffix in ("-wal", "-shm", ""):  # the main file last: it names the set
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(f"{target}{suffix}")
    except OSError as exc:
        log.error("cannot move %s aside: %s", path, exc)
        return False
    log.error("moved the unusable file %s to %s", path, target)
    return True
