"""One connected socket: a single writer task behind a queue.

Starlette sockets must not be written from several tasks at once, and a slow
dashboard must not stall the edge that feeds it: frames are queued and one
task writes them. Droppable frames (live telemetry) are dropped when the
backlog grows; command acks never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketState

from ems.protocol import encode

__all__ = ["Peer"]

log = logging.getLogger(__name__)


class Peer:
    def __init__(self, websocket: WebSocket, name: str, max_backlog: int = 256) -> None:
        self.websocket = websocket
        self.name = name
        self._queue: deque[str] = deque()
        # A future, not an asyncio.Event: the Event's deque of waiters is most of
        # an idle peer's size, and only this peer's writer ever waits.
        self._waiter: asyncio.Future[None] | None = None
        self._max_backlog = max_backlog
        self._closed = False
        self.dropped = 0
        self._writer: asyncio.Task[None] | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def backlog(self) -> int:
        """Frames queued and not yet written."""
        return len(self._queue)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer-{self.name}")

    def send(self, frame: BaseModel, droppable: bool = False) -> bool:
        """Queue a frame; returns False when it was dropped (or the peer is closed)."""
        return self.send_text(encode(frame), droppable)

    def send_text(self, text: str, droppable: bool = False) -> bool:
        """Queue a frame already encoded (e.g. relayed from another cloud process)."""
        if self._closed:
            return False
        if droppable and len(self._queue) >= self._max_backlog:
            self.dropped += 1
            return False
        self._queue.append(text)
        self._wake()
        return True

    async def _write_loop(self) -> None:
        try:
            while True:
                while self._queue:
                    await self.websocket.send_text(self._queue.popleft())
                if self._closed:
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
        except Exception as exc:  # the socket went away; the reader notices and cleans up
            log.debug("writer for %s stopped: %r", self.name, exc)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Flush what is queued, then close the socket with ``code``."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        if self._writer is not None:
            # asyncio.wait, not wait_for: the writer may end cancelled by stop(), from
            # the handler of this very socket (an edge that reconnects at the moment
            # its old socket goes), and awaiting it would raise that in the closer,
            # which is the new connection's handler. The closer's own cancellation
            # still propagates.
            done, _ = await asyncio.wait({self._writer}, timeout=2.0)
            if not done:
                self._writer.cancel()
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code=code, reason=reason)

    async def stop(self) -> None:
        """The socket is gone: stop writing without trying to close it."""
        self._closed = True
        self._wake()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer
