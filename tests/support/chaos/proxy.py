"""A small TCP proxy between an edge and the clouds: a load balancer that can drop everything.

Each accepted connection is piped to the first upstream that accepts it,
trying them in turn from a rotating start (so an edge that reconnects may
land on another cloud process, as behind a real load balancer, and never on
a dead one while another is up). :meth:`TcpProxy.drop_all` aborts every
open connection on both sides at once: "the connections dropped"; with
:meth:`TcpProxy.cut` it also refuses new ones until :meth:`TcpProxy.heal`
("the network is cut").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

__all__ = ["TcpProxy"]

log = logging.getLogger(__name__)

_CHUNK_BYTES = 65536
_CONNECT_TIMEOUT_S = 2.0


class TcpProxy:
    """Listens on 127.0.0.1 (a free port); ``upstreams`` are ``(host, port)`` pairs."""

    def __init__(self, upstreams: Sequence[tuple[str, int]]) -> None:
        if not upstreams:
            raise ValueError("a proxy needs at least one upstream")
        self.upstreams = list(upstreams)
        self.port = 0
        self.connections = 0  # accepted so far
        self.dropped = 0  # aborted by drop_all
        self._next = 0
        self._refusing = False
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def drop_all(self) -> int:
        """Abort every open connection (both sides, no goodbye); returns how many."""
        pairs = list(self._open)
        for client, upstream in pairs:
            for writer in (client, upstream):
                writer.transport.abort()
        self.dropped += len(pairs)
        return len(pairs)

    def cut(self) -> int:
        """Drop every connection and refuse new ones until :meth:`heal`; returns how many."""
        self._refusing = True
        return self.drop_all()

    def heal(self) -> None:
        self._refusing = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        # Let every handler see its connection end (no task left for the loop to cancel).
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        upstream = None if self._refusing else await self._connect_upstream()
        if upstream is None:
            writer.transport.abort()
            return
        up_reader, up_writer = upstream
        pair = (writer, up_writer)
        self._open.add(pair)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._open.discard(pair)
            for w in pair:
                w.transport.abort()

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        start = self._next
        self._next = (self._next + 1) % len(self.upstreams)
        for i in range(len(self.upstreams)):
            host, port = self.upstreams[(start + i) % len(self.upstreams)]
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(host, port), _CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                continue
        log.info("proxy: no upstream accepts connections")
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or an error, then half-close the other side."""
    try:
        while data := await reader.read(_CHUNK_BYTES):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
