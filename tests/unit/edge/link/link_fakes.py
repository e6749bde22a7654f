"""Helpers for the edge link tests; the fake cloud itself is :mod:`support.fake_cloud`."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

from ems.edge.link import CloudLink
from ems.profiles import builtin_profile_documents
from support.fake_cloud import TIMEOUT_S, FakeCloud

__all__ = ["TIMEOUT_S", "FakeCloud", "builtin_documents", "running", "until"]


async def until(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Wait (with a timeout) for a condition on the link's observable state."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            # The link's counters have no event to wait on: re-check the
            # condition every few ms, bounded by the timeout (never a fixed sleep).
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@contextlib.asynccontextmanager
async def running(link: CloudLink) -> AsyncIterator[asyncio.Event]:
    """Run ``link`` for the body; stop it after and re-raise anything ``run`` raised."""
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT_S)


def builtin_documents() -> dict[str, Any]:
    """The profile JSON documents shipped in ``ems.profiles``, as the cloud serves them
    (a copy: tests change them)."""
    return copy.deepcopy(builtin_profile_documents())
