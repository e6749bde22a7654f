"""The edge's telemetry buffer on disk: every frame stays until the cloud acks it.

One SQLite file next to the command record (``telemetry-buffer.sqlite3``)::

    frames(seq INTEGER PRIMARY KEY, ts REAL, body BLOB)  -- ts: capture time, UTC epoch s;
                                                          -- body: the frame's JSON, zlib'd
    meta(key TEXT PRIMARY KEY, value)                    -- seq_reserved, bytes, frames

Threading. :class:`FrameFile` is plain blocking code; the uplink calls it only
from its one worker thread (never from the event loop the control cycle runs
on), one :class:`Job` at a time: the frames captured since the last job are
inserted in one transaction, the acked ones deleted, the bounds enforced and,
for a backfill, the next page of older frames read.

Bounds. ``max_bytes`` of (compressed) frame bodies and ``max_age_s`` since
capture; beyond either the oldest frames are deleted first and counted.

Sequence numbers. ``seq_reserved`` is the first seq a restarted edge may use;
the uplink moves it ahead in blocks, long before it gets there, so seqs keep
increasing across restarts without a write per frame.

Failures never stop the edge (as :mod:`.seen`): a damaged or unreadable file
is moved aside (``<name>.corrupt-<UTC time>``) and a fresh one started; if no
file can be used (read-only, disk full, held by another process), the buffer
continues in memory with a smaller bound until the next restart. Frames lost
that way are counted as dropped. After such a loss, seqs continue from the
wall clock in milliseconds, so they still increase across restarts.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ems.edge.link._sqlite import CORRUPT, UNUSABLE_FILE, error_name, move_aside

__all__ = ["MEMORY_MAX_BYTES", "BufferState", "BufferedFrame", "FrameFile", "Job", "JobResult"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: The bound while the buffer lives in memory (no usable file) [bytes].
MEMORY_MAX_BYTES = 16 * 2**20
#: How long a statement waits for a lock held by another connection [s].
BUSY_TIMEOUT_S = 2.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS frames (seq INTEGER PRIMARY KEY, ts REAL NOT NULL, "
    "body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
)
_DROP_PAGE = 512  # oldest rows looked at per step when enforcing the bounds


class _Unusable(Exception):
    """The file opened but is not a buffer this edge can use."""


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    """One captured frame: ``seq``, capture time ``ts`` (UTC epoch s), its JSON text."""

    seq: int
    ts: float
    body: str


@dataclass(frozen=True, slots=True)
class BufferState:
    """What the file holds after a job."""

    frames: int = 0
    bytes: int = 0  # compressed bodies
    oldest_ts: float | None = None  # UTC epoch s of the oldest frame held


@dataclass(slots=True)
class Job:
    """One transaction's worth of work, built on the event loop."""

    now_s: float  # wall time, for the age bound [s]
    seq_reserved: int  # what a restarted edge may use first
    inserts: Sequence[BufferedFrame] = ()
    deletes: Sequence[int] = ()
    read_after: int | None = None  # read frames with read_after < seq < read_below
    read_below: int = 0
    read_limit: int = 0


@dataclass(slots=True)
class JobResult:
    state: BufferState
    read: list[BufferedFrame] = field(default_factory=list)
    dropped_size: int = 0  # oldest frames deleted for the size bound
    dropped_age: int = 0  # frames deleted for the age bound
    lost: int = 0  # frames lost with a damaged or unusable file


class FrameFile:
    """The buffer's SQLite file (or memory); call from one thread only.

    ``max_bytes`` bounds the compressed frame bodies kept, ``max_age_s`` their
    age since capture. :meth:`open` returns the first seq to use.
    """

    def __init__(self, path: Path | None, *, max_bytes: int, max_age_s: float) -> None:
        if max_bytes < 1 or not max_age_s > 0:
            raise ValueError("the telemetry buffer needs max_bytes >= 1 and max_age_s > 0")
        self._path = path
        self._max_bytes = max_bytes
        self._max_age_s = max_age_s
        self._db: sqlite3.Connection | None = None
        self._durable = False
        self._frames = 0
        self._bytes = 0
        self._oldest_ts: float | None = None
        self._reserved_written: int | None = None

    @property
    def durable(self) -> bool:
        """``False`` while the buffer lives in memory (it is lost at the next restart)."""
        return self._durable

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def state(self) -> BufferState:
        return BufferState(self._frames, self._bytes, self._oldest_ts)

    @property
    def max_bytes(self) -> int:
        return self._max_bytes if self._durable else min(self._max_bytes, MEMORY_MAX_BYTES)

    # -- open and close --------------------------------------------------
    def open(self, now_s: float) -> int:
        """Open (or create) the file; returns the first seq this process may use."""
        if self._path is None:
            self._db = self._in_memory("no file given")
            return 0
        existed = self._path.exists()
        try:
            self._db = self._connect()
        except (sqlite3.Error, _Unusable, OSError) as exc:
            usable = isinstance(exc, _Unusable) or (
                isinstance(exc, sqlite3.Error) and error_name(exc).startswith(UNUSABLE_FILE)
            )
            self._db = self._replace(now_s, exc) if usable else self._in_memory(str(exc))
            return _seq_from_clock(now_s)
        assert self._db is not None
        reserved = self._meta("seq_reserved")
        newest = self._db.execute("SELECT max(seq) FROM frames").fetchone()[0]
        first = max(int(reserved or 0), 0 if newest is None else int(newest) + 1)
        if not existed:
            return 0
        return first

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.close()
            except sqlite3.Error as exc:
                log.error("closing the telemetry buffer %s failed: %s", self._path, exc)

    # -- jobs ------------------------------------------------------------
    def run(self, job: Job) -> JobResult:
        """Apply ``job`` in one transaction; on a database error recover and retry it."""
        lost = 0
        for attempt in range(3):  # at worst: the file, a fresh file, then memory
            try:
                result = self._apply(job)
            except sqlite3.Error as exc:
                if attempt == 2:
                    raise
                lost += self._recover(exc, job.now_s)
                continue
            result.lost = lost
            return result
        raise AssertionError("unreachable")

    def _apply(self, job: Job) -> JobResult:
        db = self._require()
        result = JobResult(self.state)
        db.execute("BEGIN IMMEDIATE")
        try:
            if job.deletes:
                self._delete(db, job.deletes)
            if job.inserts:
                rows = [(f.seq, f.ts, zlib.compress(f.body.encode(), 1)) for f in job.inserts]
                db.executemany("INSERT OR REPLACE INTO frames VALUES (?, ?, ?)", rows)
                self._frames += len(rows)
                self._bytes += sum(len(r[2]) for r in rows)
                if self._oldest_ts is None:
                    self._oldest_ts = min(f.ts for f in job.inserts)
            result.dropped_size, result.dropped_age = self._enforce_bounds(db, job.now_s)
            if job.seq_reserved != self._reserved_written:
                self._set_meta(db, "seq_reserved", job.seq_reserved)
            self._set_meta(db, "bytes", self._bytes)
            self._set_meta(db, "frames", self._frames)
            if job.read_after is not None:
                result.read = [
                    BufferedFrame(int(seq), float(ts), zlib.decompress(body).decode())
                    for seq, ts, body in db.execute(
                        "SELECT seq, ts, body FROM frames WHERE seq > ? AND seq < ? "
                        "ORDER BY seq LIMIT ?",
                        (job.read_after, job.read_below, job.read_limit),
                    )
                ]
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            self._reload_totals()
            raise
        self._reserved_written = job.seq_reserved
        result.state = self.state
        return result

    def _delete(self, db: sqlite3.Connection, seqs: Sequence[int]) -> None:
        for start in range(0, len(seqs), 500):  # SQLite's bound on host parameters
            chunk = list(seqs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM frames "
                f"WHERE seq IN ({marks})",
                chunk,
            ).fetchone()
            db.execute(f"DELETE FROM frames WHERE seq IN ({marks})", chunk)
            self._frames -= int(count)
            self._bytes -= int(size)
        self._oldest_ts = self._first_ts(db)

    def _enforce_bounds(self, db: sqlite3.Connection, now_s: float) -> tuple[int, int]:
        """Delete the oldest frames while over the size bound or past the age bound."""
        cutoff_s = now_s - self._max_age_s
        by_size = by_age = 0
        while self._frames > 0 and (
            self._bytes > self.max_bytes
            or (self._oldest_ts is not None and self._oldest_ts < cutoff_s)
        ):
            last: int | None = None
            for seq, ts, size in db.execute(
                "SELECT seq, ts, length(body) FROM frames ORDER BY seq LIMIT ?", (_DROP_PAGE,)
            ).fetchall():
                if self._bytes > self.max_bytes:
                    by_size += 1
                elif ts < cutoff_s:
                    by_age += 1
                else:
                    break
                self._bytes -= int(size)
                self._frames -= 1
                last = int(seq)
            if last is None:
                break
            db.execute("DELETE FROM frames WHERE seq <= ?", (last,))
            self._oldest_ts = self._first_ts(db)
        if self._frames <= 0:
            self._frames, self._bytes, self._oldest_ts = 0, 0, None
        return by_size, by_age

    # -- internals -------------------------------------------------------
    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the telemetry buffer is not open")
        return self._db

    def _first_ts(self, db: sqlite3.Connection) -> float | None:
        row = db.execute("SELECT ts FROM frames ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def _meta(self, key: str) -> int | None:
        row = self._require().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _set_meta(self, db: sqlite3.Connection, key: str, value: int) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _reload_totals(self) -> None:
        """Totals from the file, after a rolled-back job (rare: a failure is being handled)."""
        with contextlib.suppress(sqlite3.Error, RuntimeError):
            db = self._require()
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM frames"
            ).fetchone()
            self._frames, self._bytes = int(count), int(size)
            self._oldest_ts = self._first_ts(db)

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives a crash of the process; a power cut may
            # lose the last few, which the flush interval already allows.
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise _Unusable(f"schema version {version}, this edge writes {SCHEMA_VERSION}")
            # Totals are kept in meta: counting a big buffer at start would
            # read every page of it (seconds on an SD card).
            rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
            self._frames = int(rows.get("frames") or 0)
            self._bytes = int(rows.get("bytes") or 0)
            self._oldest_ts = self._first_ts(db)
            if self._oldest_ts is None:
                self._frames, self._bytes = 0, 0
        except BaseException:
            db.close()
            raise
        self._durable = True
        self._reserved_written = None
        return db

    def _replace(self, now_s: float, why: object) -> sqlite3.Connection:
        """Move an unusable file aside and start a fresh one (memory if that fails)."""
        assert self._path is not None
        log.error(
            "the telemetry buffer %s cannot be used (%s); moving it aside and starting a "
            "fresh one: frames it held are not sent",
            self._path,
            why,
        )
        if not move_aside(self._path, now_s):
            return self._in_memory("the unusable file could not be moved aside")
        try:
            return self._connect()
        except (sqlite3.Error, _Unusable, OSError) as exc:
            return self._in_memory(str(exc))

    def _in_memory(self, why: str) -> sqlite3.Connection:
        if self._path is not None:
            log.error(
                "cannot keep the telemetry buffer in %s (%s); keeping up to %d MiB in memory "
                "until the edge restarts",
                self._path,
                why,
                MEMORY_MAX_BYTES // 2**20,
            )
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        for statement in _SCHEMA:
            db.execute(statement)
        self._durable = False
        self._frames, self._bytes, self._oldest_ts = 0, 0, None
        self._reserved_written = None
        return db

    def _recover(self, exc: sqlite3.Error, now_s: float) -> int:
        """Replace a connection that failed; returns how many frames were lost with it."""
        lost = self._frames
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        if not self._durable:
            raise exc  # memory itself failed: nothing left to fall back to
        if error_name(exc).startswith(CORRUPT):
            self._db = self._replace(now_s, exc)
        else:
            self._db = self._in_memory(f"{exc} ({error_name(exc)})")
        return lost


def _seq_from_clock(now_s: float) -> int:
    """After the buffer (and its seq record) was lost: seqs from the wall clock [ms]."""
    return max(0, int(now_s * 1000))
