"""The Redis client behind the cloud's shared state: a real server, or the embedded store.

``shared_redis(url)`` is the one place that decides (DESIGN section 2): a
``redis://`` (``rediss://``, ``unix://``) URL gives a real client; no URL gives
a client of the *embedded* store, an in-process Redis look-alike (fakeredis)
that runs the same commands and the same Lua scripts (through lupa). The
modules on top (:mod:`ems.cloud.shared.inflight`, :mod:`ems.cloud.shared.queue`)
cannot tell the two apart, so there is one code path.

**Replies are bytes** (``decode_responses=False``) for every client made here:
payloads round-trip byte for byte, whatever their encoding, and the modules
decode ids and JSON themselves (UTF-8). A caller that wants text decodes it.

The embedded store is the one piece of process-global state in the cloud. It
stands in for an external service, the single Redis server that every part
of a cloud process reaches through the same ``EMS_REDIS_URL``: the dispatcher,
the watchdog and the rate limiter each make their own client from the same
configuration and must see one data set, exactly as they would with one URL.
Threading a server object through every constructor instead would make the
embedded path differ from the production one. It holds data, not
configuration; tests that need a clean slate call
:func:`reset_embedded_server` (or build their own ``fakeredis.FakeServer``).
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import fakeredis
import redis.asyncio as redis_async
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["REAL_SCHEMES", "embedded_server", "reset_embedded_server", "shared_redis"]

#: URL schemes that mean a real Redis server.
REAL_SCHEMES = frozenset({"redis", "rediss", "unix"})
POOL_CONNECTIONS = 100  # per process, as redis-py's default pool
POOL_WAIT_S = 20.0  # for a free connection, then ConnectionError

#: The Redis version the embedded store behaves as (the oldest we run against: Debian's 7.0).
EMBEDDED_VERSION = (7, 0)

_embedded: fakeredis.FakeServer | None = None
_embedded_lock = threading.Lock()


def shared_redis(url: str | None) -> redis_async.Redis:
    """A client for the shared state: the server at ``url``, or the embedded store.

    ``url`` ``None`` or empty: a client of this process's embedded store (every
    such client sees the same data). Otherwise a ``redis://``, ``rediss://`` or
    ``unix://`` URL; the client connects lazily, on its first command. Raises
    :class:`ValueError` for any other scheme. Close the client with
    ``await client.aclose()``.
    """
    if not url:
        # Blocking like the real pool below: the default pool refuses the 101st
        # concurrent command ("Too many connections"), which a few dozen edges
        # logging in at once reach even in-process.
        return fakeredis.FakeAsyncRedis(
            server=embedded_server(),
            decode_responses=False,
            connection_pool_class=redis_async.BlockingConnectionPool,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_S,
        )
    scheme = urlsplit(url).scheme
    if scheme not in REAL_SCHEMES:
        raise ValueError(
            f"not a Redis URL (scheme {scheme!r}; expected one of {sorted(REAL_SCHEMES)}); "
            "leave it unset for the embedded store"
        )
    # A blocking pool: a burst of work (thousands of edges connecting at once) waits
    # for a free connection instead of failing with "Too many connections" (the
    # default pool's answer at 100, which reset edges' sockets mid-handshake).
    pool = redis_async.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=POOL_WAIT_S,
        decode_responses=False,
        # After a Redis restart every pooled connection is dead: a command on one
        # fails with ConnectionError before it reached the server. Reconnect and
        # send it again. (Not on timeouts: that command may have run.)
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=5),
        retry_on_error=[RedisConnectionError],
    )
    client: redis_async.Redis = redis_async.Redis.from_pool(pool)
    return client


def embedded_server() -> fakeredis.FakeServer:
    """This process's embedded store, created on first use."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = fakeredis.FakeServer(version=EMBEDDED_VERSION)
        return _embedded


def reset_embedded_server() -> None:
    """Forget the embedded store: clients made from now on see a new, empty one.

    Clients made before keep the old store. For tests.
    """
    global _embedded
    with _embedded_lock:
        _embedded = None
