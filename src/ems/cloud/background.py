"""A service's one background loop: started once, cancelled and awaited on stop.

The cloud's mailers, watchers and caches each run a loop beside the requests
they serve. Stopping one must not leave its task pending (asyncio warns, and a
loop still holding a Redis connection delays the process's exit), and stopping
one that never started must be harmless: a lifespan that failed half-way stops
everything it built.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["BackgroundLoop"]


class BackgroundLoop:
    """Runs ``run()`` as a task named ``name`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self._name} is already running")
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
