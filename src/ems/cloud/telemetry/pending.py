"""One edge's frames on their way to the database: a small bounded FIFO for one
reader task and one writer task.

``asyncio.Queue`` would do, but it carries three deques and an ``Event`` (a
fourth deque): about 3 KB per connected edge before a single frame is queued,
with thousands of edges on one process (DESIGN 11: ≤ 50 KB per edge). This
holds its frames in a list (at most ``maxsize``, a few dozen) and at most one
waiting future per side.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["PendingFrames"]

T = TypeVar("T")


class PendingFrames(Generic[T]):
    """FIFO of at most ``maxsize`` items; ``put`` waits while full, ``get`` while empty.

    Meant for one producer and one consumer (an edge's socket reader and its
    store task): each side has at most one waiter.
    """

    __slots__ = ("_getter", "_items", "_maxsize", "_putter")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, not {maxsize!r}")
        self._maxsize = maxsize
        self._items: list[T] = []
        self._getter: asyncio.Future[None] | None = None
        self._putter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    async def put(self, item: T) -> None:
        while len(self._items) >= self._maxsize:
            self._putter = asyncio.get_running_loop().create_future()
            await self._putter
        self._items.append(item)
        _wake(self._getter)

    async def get(self) -> T:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            await self._getter
        return self.get_nowait()

    def get_nowait(self) -> T:
        """The oldest item; ``IndexError`` when there is none."""
        item = self._items.pop(0)  # a few dozen items at most: cheaper than a deque's block
        _wake(self._putter)
        return item


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
