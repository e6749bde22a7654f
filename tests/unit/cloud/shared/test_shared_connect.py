"""shared_redis(): a real client for a URL, the process's embedded store without one."""

from __future__ import annotations

import asyncio

import fakeredis
import pytest
import redis.asyncio as redis_async

from ems.cloud.shared import connect
from ems.cloud.shared.connect import embedded_server, reset_embedded_server, shared_redis


@pytest.fixture(autouse=True)
def fresh_embedded_store() -> None:
    reset_embedded_server()


@pytest.mark.asyncio
async def test_no_url_gives_clients_of_one_embedded_store() -> None:
    a, b = shared_redis(None), shared_redis("")
    try:
        assert isinstance(a, fakeredis.FakeAsyncRedis)
        await a.set("k", b"\x00\xff")
        assert await b.get("k") == b"\x00\xff"  # bytes, not str: decode_responses=False
        # Lua runs (through lupa), as on a real server.
        assert await b.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"\x00\xff"
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.asyncio
async def test_reset_gives_a_fresh_store() -> None:
    before = embedded_server()
    a = shared_redis(None)
    await a.set("k", "v")
    reset_embedded_server()
    assert embedded_server() is not before
    b = shared_redis(None)
    try:
        assert await b.get("k") is None
        assert await a.get("k") == b"v"  # an older client keeps the store it had
    finally:
        await a.aclose()
        await b.aclose()


def test_embedded_store_behaves_as_redis_7() -> None:
    assert embedded_server().version[0] == connect.EMBEDDED_VERSION[0] == 7


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0", "rediss://example.invalid:6380/2", "unix:///tmp/r.sock"]
)
async def test_url_gives_a_real_client(url: str) -> None:
    client = shared_redis(url)  # connects lazily: nothing is listening there
    try:
        assert type(client) is redis_async.Redis
        assert not isinstance(client, fakeredis.FakeAsyncRedis)
        assert client.connection_pool.connection_kwargs["decode_responses"] is False
    finally:
        await client.aclose()


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "memory://"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        shared_redis(url)


@pytest.mark.asyncio
async def test_embedded_store_waits_for_a_connection_instead_of_refusing() -> None:
    # A burst of edges logging in at once issues more concurrent commands than the
    # pool holds; the embedded store must queue them, as the real client's pool does.
    client = shared_redis(None)
    burst = 3 * connect.POOL_CONNECTIONS
    try:
        await asyncio.gather(*(client.set(f"k{i}", i) for i in range(burst)))
        assert await client.get(f"k{burst - 1}") == str(burst - 1).encode()
    finally:
        await client.aclose()
