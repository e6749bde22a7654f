"""The edge's durable record of the commands it has taken (DESIGN section 4).

A command the cloud delivers twice (after a reconnect, or after this edge
restarted) must not be executed twice. :class:`SeenCommands` keeps one row per
command id this edge has taken, with the latest status it reported, in one
SQLite file next to the profile cache::

    seen(command_id TEXT PRIMARY KEY, received_at REAL, status TEXT,
         reason TEXT, detail TEXT, at REAL)            -- times: UTC epoch seconds

``status`` is ``taken`` (recorded, no verdict yet), ``delivered`` (the request
channel held it), or the final ``rejected``/``executed``/``failed``.

Durability. A row is written with ``synchronous=FULL`` *before* the command
is submitted, so a command that was taken is still known after a power cut,
however soon after the cut the command was applied. Status updates use
``synchronous=NORMAL``: losing one in a power cut leaves the row at an earlier
status, and the command is still never executed again (a re-delivery is
answered ``delivered``, and the cloud's watchdog settles it).

Threading. Every call is one short statement on a one-row key, made once per
operator command (never per cycle), so calls run inline on the caller's thread
(the link's event loop) instead of on a worker thread: that keeps "recorded,
then submitted" a plain sequence with no await in between, and keeps commands
in arrival order (a newer command supersedes an older one on the same request
channel). The cost is one fsync per command on the loop; a slow one is logged.
A lock makes the object safe to call from other threads too.

Failures never stop the edge: a corrupt or unreadable file is moved aside
(``<name>.corrupt-<UTC time>``, with any ``-wal``/``-shm`` files) and a fresh
one is started; if no file can be used at all (read-only disk, disk full, a
second process holding it), the record continues in memory until the next
restart, which still protects against duplicates within this process.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ems.clock import Clock
from ems.edge.link._sqlite import CORRUPT, UNUSABLE_FILE, error_name, move_aside
from ems.edge.redelivery import REDELIVERY_WINDOW_S
from ems.protocol import MAX_TTL_S

__all__ = ["DEFAULT_RETENTION_S", "SeenCommands", "SeenRecord", "SeenStatus"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SeenStatus = Literal["taken", "delivered", "rejected", "executed", "failed"]
_STATUSES: dict[str, SeenStatus] = {
    "taken": "taken",
    "delivered": "delivered",
    "rejected": "rejected",
    "executed": "executed",
    "failed": "failed",
}
_FINAL = ("rejected", "executed", "failed")

#: How long a command id is remembered [s]: as long as the cloud may deliver it
#: again (see :mod:`ems.edge.redelivery`).
DEFAULT_RETENTION_S = REDELIVERY_WINDOW_S
#: Old rows are deleted at most this often [s]; a minute's extra rows cost nothing.
PRUNE_EVERY_S = 60.0
#: A write that holds the event loop longer than this is logged [s] (a tenth of
#: the default 1 s control cycle, which shares the loop in ``ems edge --cloud``).
SLOW_WRITE_S = 0.1
#: How long a statement waits for a lock held by another connection [s]. Short:
#: calls run on the event loop, and only one edge process should use the file.
BUSY_TIMEOUT_S = 0.5
SCHEMA_VERSION = 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS seen (
    command_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT,
    at REAL
) WITHOUT ROWID"""
_COLUMNS = "command_id, received_at, status, reason, detail, at"


class _Unusable(Exception):
    """The file opened but is not a command record this class can use."""


@dataclass(frozen=True, slots=True)
class SeenRecord:
    """One command this edge has taken and where it stands.

    ``received_at`` is when it was first taken and ``at`` when ``status`` was
    reached (``None`` while ``taken``); both UTC epoch seconds [s].
    """

    command_id: str
    received_at: float
    status: SeenStatus
    reason: str | None
    detail: str | None
    at: float | None


class SeenCommands:
    """A durable set of command ids this edge has taken, with their latest status.

    ``retention_s`` is how long an id is kept after it was taken [s]; it must be
    at least the longest command TTL (:data:`ems.protocol.MAX_TTL_S`). Times come
    from ``clock`` (wall time for ages, which survive a restart; monotonic time
    to space out pruning).
    """

    def __init__(
        self, path: Path, *, retention_s: float = DEFAULT_RETENTION_S, clock: Clock
    ) -> None:
        if not retention_s >= MAX_TTL_S:  # also refuses NaN
            raise ValueError(
                f"retention_s must be at least the longest TTL ({MAX_TTL_S} s), not {retention_s!r}"
            )
        self._path = path
        self._retention_s = retention_s
        self._clock = clock
        self._lock = threading.Lock()
        self._durable = True
        self._closed = False
        self._db = self._open()
        self._next_prune_s = self._clock.monotonic()
        self.prune()

    # -- observable state ------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def durable(self) -> bool:
        """``False`` once the record fell back to memory (it is lost at the next restart)."""
        return self._durable

    # -- the record ------------------------------------------------------
    def record_taken(self, command_id: str) -> bool:
        """Record ``command_id`` as taken; ``False`` if it was already known.

        Atomic (``INSERT OR IGNORE``) and on disk before it returns (one fsync),
        so while :attr:`durable`, a ``True`` is a promise that a later delivery
        of the same id, even after a power cut, is found here and not executed.
        """
        if self._clock.monotonic() >= self._next_prune_s:
            self.prune()
        now_s = self._clock.time()

        def insert(db: sqlite3.Connection) -> bool:
            # FULL: the WAL is fsynced at this commit (NORMAL would only fsync
            # it at the next checkpoint, so a power cut could forget a command
            # that was already applied, and its re-delivery would run it again).
            # Cost: one fsync per operator command, about a millisecond on an
            # SSD, tens on an SD card, more under heavy write load.
            db.execute("PRAGMA synchronous=FULL")
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen (command_id, received_at, status) "
                "VALUES (?, ?, 'taken')",
                (command_id, now_s),
            )
            return cursor.rowcount == 1

        started = time.perf_counter()  # real time: this measures the disk, not the clock
        taken = self._do(insert)
        elapsed_s = time.perf_counter() - started
        if elapsed_s > SLOW_WRITE_S:
            log.warning(
                "recording command %s took %.3f s (slow disk under %s?)",
                command_id,
                elapsed_s,
                self._path.parent,
            )
        return taken

    def update(
        self,
        command_id: str,
        status: str,
        reason: str | None,
        detail: str | None,
        at: float,
    ) -> bool:
        """Set a taken command's status (with its reason code and detail) as of ``at`` [s].

        ``status`` is ``delivered``, ``rejected``, ``executed`` or ``failed``.
        Returns ``False`` if the id is not recorded, or if ``delivered`` would
        replace a final status (a progress report never undoes an outcome).
        """
        if status not in _STATUSES or status == "taken":
            raise ValueError(f"not a status to record: {status!r}")

        def set_status(db: sqlite3.Connection) -> bool:
            # NORMAL is enough: the row already exists durably, and losing this
            # update leaves it at an earlier status, never "not taken".
            db.execute("PRAGMA synchronous=NORMAL")
            cursor = db.execute(
                "UPDATE seen SET status = ?, reason = ?, detail = ?, at = ? "
                "WHERE command_id = ? AND NOT (? = 'delivered' AND status IN (?, ?, ?))",
                (status, reason, detail, at, command_id, status, *_FINAL),
            )
            return cursor.rowcount == 1

        return self._do(set_status)

    def restore_executed(self, executed: Iterable[tuple[str, float]]) -> int:
        """Record ``(command_id, applied_at)`` pairs [UTC epoch s] as ``executed``.

        For the edge's start, from its execution log: a command the cycle
        applied is known as executed even if this record lost it (a damaged
        file moved aside, an update lost in a power cut). Ids older than
        ``retention_s`` are skipped (they would be pruned at once); a record
        that is already final is left alone. Returns how many rows were added
        or moved to ``executed``.
        """
        cutoff_s = self._clock.time() - self._retention_s
        rows = [(cid, at_s) for cid, at_s in executed if at_s >= cutoff_s]
        if not rows:
            return 0

        def restore(db: sqlite3.Connection) -> int:
            db.execute("PRAGMA synchronous=FULL")  # once, at start: on disk before commands
            changed = 0
            db.execute("BEGIN")
            try:
                for command_id, at_s in rows:
                    changed += db.execute(
                        "INSERT OR IGNORE INTO seen (command_id, received_at, status, at) "
                        "VALUES (?, ?, 'executed', ?)",
                        (command_id, at_s, at_s),
                    ).rowcount
                    changed += db.execute(
                        "UPDATE seen SET status = 'executed', reason = NULL, detail = NULL, "
                        "at = ? WHERE command_id = ? AND status IN ('taken', 'delivered')",
                        (at_s, command_id),
                    ).rowcount
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # the error that got here matters
                    db.execute("ROLLBACK")
                raise
            return changed

        return self._do(restore)

    def get(self, command_id: str) -> SeenRecord | None:
        """The record of ``command_id``, or ``None`` if this edge never took it (or forgot it)."""

        def select(db: sqlite3.Connection) -> SeenRecord | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM seen WHERE command_id = ?", (command_id,)
            ).fetchone()
            return None if row is None else _record(row)

        return self._do(select)

    def prune(self) -> int:
        """Forget ids taken more than ``retention_s`` ago; returns how many were deleted.

        Runs at open and from :meth:`record_taken` at most once a minute. A full
        scan, on purpose: the table holds a few hours of operator commands, and
        an index on ``received_at`` would add a write to every insert.
        """
        self._next_prune_s = self._clock.monotonic() + PRUNE_EVERY_S
        cutoff_s = self._clock.time() - self._retention_s

        def delete(db: sqlite3.Connection) -> int:
            db.execute("PRAGMA synchronous=NORMAL")  # a lost delete is redone next time
            return db.execute("DELETE FROM seen WHERE received_at < ?", (cutoff_s,)).rowcount

        deleted = self._do(delete)
        if deleted:
            log.debug("forgot %d command ids older than %.0f s", deleted, self._retention_s)
        return deleted

    def close(self) -> None:
        """Close the file (the WAL is checkpointed into it); later calls raise. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._db.close()
            except sqlite3.Error as exc:
                log.error("closing the command record %s failed: %s", self._path, exc)

    # -- internals -------------------------------------------------------
    def _do(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op``; on a database error, recover (fresh file or memory) and run it again."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the command record {self._path} is closed")
            for _ in range(2):  # at worst: the file, a fresh file, then memory
                try:
                    return op(self._db)
                except sqlite3.Error as exc:
                    self._recover(exc)
            return op(self._db)

    def _recover(self, exc: sqlite3.Error) -> None:
        """Replace a connection that failed: a fresh file if it was corrupt, else memory."""
        with contextlib.suppress(sqlite3.Error):  # it already failed
            self._db.close()
        if not self._durable:
            raise exc  # memory itself failed: nothing left to fall back to
        if error_name(exc).startswith(CORRUPT):
            log.error(
                "the command record %s is damaged (%s); starting a fresh one: commands "
                "taken before now may run again if the cloud delivers them again",
                self._path,
                exc,
            )
            self._move_aside()
            self._db = self._open()
        else:
            self._db = self._in_memory(f"{exc} ({error_name(exc)})")

    def _open(self) -> sqlite3.Connection:
        """The file's connection; a fresh file if it was unusable; memory if nothing works."""
        try:
            return self._connect()
        except (sqlite3.Error, _Unusable) as exc:
            if isinstance(exc, sqlite3.Error) and not error_name(exc).startswith(UNUSABLE_FILE):
                return self._in_memory(f"{exc} ({error_name(exc)})")
            log.error(
                "the command record %s cannot be used (%s); moving it aside and starting "
                "a fresh one: commands taken before now may run again if the cloud "
                "delivers them again",
                self._path,
                exc,
            )
        except OSError as exc:
            return self._in_memory(str(exc))
        if not self._move_aside():
            return self._in_memory("the unusable file could not be moved aside")
        try:
            return self._connect()
        except (sqlite3.Error, _Unusable, OSError) as exc:
            return self._in_memory(str(exc))

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): every statement is its own
        # transaction, so each insert is on disk when execute returns.
        db = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            # WAL: one append per commit instead of a rollback journal's rewrite;
            # the setting is stored in the file.
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("the command record %s runs in %s mode, not WAL", self._path, mode)
            # The file is small (a few hours of commands), so a full check costs
            # little and catches damage a lookup by key might never touch.
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Unusable(f"integrity check: {check}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                db.execute(_SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise _Unusable(f"schema version {version}, this edge writes {SCHEMA_VERSION}")
            db.execute(f"SELECT {_COLUMNS} FROM seen LIMIT 1").fetchall()
        except BaseException:
            db.close()
            raise
        self._durable = True
        return db

    def _in_memory(self, why: str) -> sqlite3.Connection:
        log.error(
            "cannot keep the command record in %s (%s); keeping it in memory until the "
            "edge restarts: after a restart, a command the cloud delivers again may run again",
            self._path,
            why,
        )
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        db.execute(_SCHEMA)
        self._durable = False
        return db

    def _move_aside(self) -> bool:
        return move_aside(self._path, self._clock.time())


def _record(row: tuple[Any, ...]) -> SeenRecord:
    command_id, received_at, status, reason, detail, at = row
    return SeenRecord(
        command_id=str(command_id),
        received_at=float(received_at),
        # An unknown status (a file edited by hand) reads as the safest one:
        # taken, so the command is answered and never run again.
        status=_STATUSES.get(str(status), "taken"),
        reason=None if reason is None else str(reason),
        detail=None if detail is None else str(detail),
        at=None if at is None else float(at),
    )
