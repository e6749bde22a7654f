"""Per-address HTTP limits and security headers (one ASGI layer), on the embedded store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ems.cloud.http_guard import HttpGuard, content_security_policy
from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.ratelimit import Rate, RedisLimiter

T0 = 1_767_225_600.0


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


async def _ok(_request: object) -> Response:
    return JSONResponse({"ok": True})


async def _framed(_request: object) -> Response:
    return Response("x", headers={"X-Frame-Options": "SAMEORIGIN"})


@pytest_asyncio.fixture
async def guarded() -> AsyncIterator[tuple[HttpGuard, Clock]]:
    reset_embedded_server()
    redis = shared_redis(None)
    clock = Clock()
    app = Starlette(
        routes=[Route("/api/x", _ok), Route("/auth/y", _ok), Route("/", _ok), Route("/f", _framed)]
    )
    guard = HttpGuard(
        app,
        RedisLimiter(redis),
        Rate(per_s=1, burst=3),
        clock,
        allowed_origins=["https://dash.example"],
        hsts_max_age_s=600,
    )
    yield guard, clock
    await redis.aclose()


def _client(
    guard: HttpGuard, base: str = "http://cloud", ip: str = "10.0.0.1"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard, client=(ip, 1234)), base_url=base
    )


@pytest.mark.asyncio
async def test_per_address_limit_with_retry_after(guarded: tuple[HttpGuard, Clock]) -> None:
    guard, clock = guarded
    async with _client(guard) as http, _client(guard, ip="10.0.0.2") as other:
        assert [(await http.get("/api/x")).status_code for _ in range(3)] == [200] * 3
        refused = await http.get("/auth/y")  # one bucket for /api and /auth
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "rate_limited"
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert guard.stats.refused == 1
        assert (await http.get("/")).status_code == 200  # the dashboard is not limited
        assert (await other.get("/api/x")).status_code == 200  # another address
        clock.now += 1.0
        assert (await http.get("/api/x")).status_code == 200


@pytest.mark.asyncio
async def test_security_headers(guarded: tuple[HttpGuard, Clock]) -> None:
    guard, _ = guarded
    async with _client(guard) as http, _client(guard, base="https://cloud") as https:
        r = await http.get("/")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cross-origin-opener-policy"] == "same-origin"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "connect-src 'self' https://dash.example wss://dash.example" in csp
        assert "strict-transport-security" not in r.headers  # plain http
        assert (await https.get("/")).headers["strict-transport-security"] == (
            "max-age=600; includeSubDomains"
        )
        # A header the app set itself is kept, not doubled.
        framed = await http.get("/f")
        assert framed.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_docs_pages_may_load_their_cdn_scripts() -> None:
    assert "cdn.jsdelivr.net" not in content_security_policy()
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in (
        content_security_policy(docs=True)
    )


class _Unreachable:
    async def take(self, *_args: object, **_kwargs: object) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        raise RedisConnectionError("down")


@pytest.mark.asyncio
async def test_fails_open_when_the_shared_store_is_down() -> None:
    app = Starlette(routes=[Route("/auth/y", _ok)])
    guard = HttpGuard(app, _Unreachable(), Rate(per_s=1, burst=1), Clock())  # type: ignore[arg-type]
    async with _client(guard) as http:
        assert [(await http.get("/auth/y")).status_code for _ in range(3)] == [200] * 3
