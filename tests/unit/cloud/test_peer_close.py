"""Closing a peer whose socket is torn down at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from ems.cloud.peer import Peer

WAIT_S = 5.0


class StuckSocket:
    """A socket whose write never completes (a peer that stopped reading)."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.writing = asyncio.Event()
        self.closed_with: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.writing.set()
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)


async def _writing_peer() -> tuple[Peer, StuckSocket]:
    """A started peer whose writer is stuck writing a frame."""
    socket = StuckSocket()
    held: Any = socket
    peer = Peer(held, "edge:site-1")
    peer.start()
    peer.send_text("{}")
    await asyncio.wait_for(socket.writing.wait(), WAIT_S)
    return peer, socket


@pytest.mark.asyncio
async def test_a_replaced_peer_torn_down_meanwhile_does_not_fail_its_closer() -> None:
    # An edge reconnects: the new connection's handler closes the old peer, while the
    # old connection's own handler, which saw its socket go, stops the same peer. The
    # writer's end there is not the closer's: the new connection must go on.
    peer, socket = await _writing_peer()
    closing = asyncio.create_task(peer.close(4409, "replaced by a newer connection"))
    await asyncio.sleep(0)  # the closer now waits for the writer
    await asyncio.wait_for(peer.stop(), WAIT_S)
    await asyncio.wait_for(closing, WAIT_S)  # raised CancelledError before the fix
    assert socket.closed_with == (4409, "replaced by a newer connection")


@pytest.mark.asyncio
async def test_a_closer_that_is_itself_cancelled_still_sees_it() -> None:
    peer, _ = await _writing_peer()
    closing = asyncio.create_task(peer.close())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await peer.stop()
