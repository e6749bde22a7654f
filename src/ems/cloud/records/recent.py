"""This process's latest status change per command, kept for a short while.

The recorder writes Redis a little after a status changes (it queues the
writes), so a dashboard reconnecting in that gap would read a status from
Redis that its socket has already seen replaced. The catch-up therefore lays
these recent local changes over what Redis returned; a change is kept for
``horizon_s`` after it happened, far longer than any write takes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from ems.cloud.records.model import StatusChange

__all__ = ["RecentChanges"]


class RecentChanges:
    """Latest change per command, grouped by user, forgotten ``horizon_s`` [s] later."""

    def __init__(
        self, horizon_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._horizon_s = horizon_s
        self._clock = clock
        self._by_user: dict[str, dict[str, tuple[float, StatusChange]]] = {}
        self._order: deque[tuple[float, str, str]] = deque()  # (added, user, command id)

    def add(self, change: StatusChange) -> None:
        now = self._clock()
        self._forget(now)
        user, command_id = change.command.user, change.command.command_id
        self._by_user.setdefault(user, {})[command_id] = (now, change)
        self._order.append((now, user, command_id))

    def for_user(self, user: str) -> list[StatusChange]:
        """The user's recent changes, the latest per command, oldest first."""
        self._forget(self._clock())
        mine = self._by_user.get(user, {})
        return [change for _, change in sorted(mine.values(), key=lambda pair: pair[0])]

    def __len__(self) -> int:
        return sum(len(m) for m in self._by_user.values())

    def _forget(self, now: float) -> None:
        while self._order and self._order[0][0] <= now - self._horizon_s:
            added, user, command_id = self._order.popleft()
            mine = self._by_user.get(user)
            # A later change of the same command has its own entry further on.
            if mine is not None and mine.get(command_id, (None,))[0] == added:
                del mine[command_id]
                if not mine:
                    del self._by_user[user]
