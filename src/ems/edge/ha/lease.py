"""This node's own view of its control lease: the gate in front of control and writes.

The table grants a lease until ``proposal wall time + lease_s``. The holder
counts it from the moment it *sent* the proposal, on its monotonic clock, so
its own view always ends before the table's (whatever its wall clock does),
and it stops ``write_guard_s`` earlier still: a write begun just before that
point is over (or timed out) before another node can be granted the lease.
A stalled holder that wakes up finds its lease over and writes nothing.

Thread-safe: the cycle asks on the event loop, the driver threads before each
device write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["LocalLease"]


class LocalLease:
    def __init__(self, monotonic: Callable[[], float], lease_s: float, write_guard_s: float):
        self._monotonic = monotonic
        self._lease_s = lease_s
        self._guard_s = write_guard_s
        self._lock = threading.Lock()
        self._valid_until = float("-inf")  # monotonic s; the guard already taken off
        self._token = 0
        self._enabled = False  # control is handed over only once the new holder is ready

    def granted(self, sent_at: float, token: int) -> None:
        """The table granted (or renewed) the lease under ``token`` for a proposal sent at
        ``sent_at`` (monotonic s)."""
        with self._lock:
            if token != self._token:
                self._enabled = False  # a new term of office: ready it again
            self._token = token
            self._valid_until = max(self._valid_until, sent_at + self._lease_s - self._guard_s)

    def lost(self) -> None:
        """Another node holds the lease (or this one gave it up)."""
        with self._lock:
            self._valid_until = float("-inf")
            self._enabled = False

    def enable(self) -> None:
        """The holder took over the controller state: control and writes may begin."""
        with self._lock:
            self._enabled = True

    @property
    def token(self) -> int:
        """The fencing token of this node's latest grant (0: never held)."""
        with self._lock:
            return self._token

    def held(self) -> bool:
        """The lease is this node's right now (ready or not)."""
        with self._lock:
            return self._monotonic() < self._valid_until

    def may_control(self) -> bool:
        """Run controllers and write to devices now: held and readied."""
        with self._lock:
            return self._enabled and self._monotonic() < self._valid_until

    may_write = may_control
