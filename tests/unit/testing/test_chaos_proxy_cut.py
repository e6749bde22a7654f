"""The chaos proxy's cut: open connections dropped, new ones refused until healed."""

from __future__ import annotations

import asyncio

import pytest

from support.chaos.proxy import TcpProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trip(port: int) -> bytes:
    """What comes back for b"ping"; b"" when the connection is aborted (EOF or reset)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"ping")
        await writer.drain()
        return await asyncio.wait_for(reader.read(4), 5)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_cut_drops_and_refuses_until_healed() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    proxy = TcpProxy([("127.0.0.1", server.sockets[0].getsockname()[1])])
    port = await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.read(4), 5) == b"ping"
        assert proxy.cut() == 1
        assert await asyncio.wait_for(reader.read(4), 5) == b""  # dropped
        writer.close()
        assert await _round_trip(port) == b""  # refused while cut
        proxy.heal()
        assert await _round_trip(port) == b"ping"
    finally:
        await proxy.close()
        server.close()
        await server.wait_closed()
