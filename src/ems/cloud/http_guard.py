"""HTTP hardening as one ASGI layer: per-address rate limits and security headers.

- ``/api`` and ``/auth`` (when mounted here): a token bucket per client
  address, in Redis (shared by every cloud process); over it, ``429`` with
  ``Retry-After`` [s] and ``{"detail": …, "code": "rate_limited"}``. The
  address is the one uvicorn reports: behind a reverse proxy, start uvicorn
  with ``--forwarded-allow-ips`` for that proxy so it is the client's.
- Every HTTP response: ``Content-Security-Policy`` (fitting the static Next.js
  dashboard: its inline bootstrap scripts and styles, sockets to its own
  origin; the Swagger/ReDoc pages at ``/docs`` and ``/redoc`` also load their
  scripts from the jsDelivr CDN), ``X-Content-Type-Options``,
  ``Referrer-Policy``, ``X-Frame-Options`` with CSP ``frame-ancestors``,
  ``Cross-Origin-Opener-Policy``, and ``Strict-Transport-Security`` on https
  requests only. A header the app already set (Django's own) is kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ems.ratelimit import Decision, Rate, RedisLimiter

__all__ = ["HttpGuard", "HttpGuardStats", "content_security_policy"]

log = logging.getLogger(__name__)

LIMITED_PREFIXES = ("/api", "/auth")
ALLOWED = Decision(True)
_DOCS_PATHS = ("/docs", "/redoc")
_CDN = "https://cdn.jsdelivr.net"


def content_security_policy(connect_origins: Sequence[str] = (), *, docs: bool = False) -> str:
    """The policy for a page: the dashboard's, or (``docs``) the API docs' pages."""
    # The static export bootstraps with inline <script> tags and inline styles,
    # whose hashes change with every build: 'unsafe-inline' for those two only.
    scripts = "'self' 'unsafe-inline'" + (f" {_CDN}" if docs else "")
    styles = "'self' 'unsafe-inline'" + (f" {_CDN}" if docs else "")
    images = "'self' data: blob:" + (" https://fastapi.tiangolo.com" if docs else "")
    connect = " ".join(["'self'", *connect_origins])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src {styles}",
            f"img-src {images}",
            "font-src 'self' data:",
            f"connect-src {connect}",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@dataclass
class HttpGuardStats:
    """Counters since start, for metrics (the guard itself is built by Starlette)."""

    refused: int = 0
    """Requests answered 429."""


class HttpGuard:
    """Wraps the app: rate limits on the limited prefixes, headers on every response."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RedisLimiter,
        rate: Rate,
        clock: Callable[[], float],
        allowed_origins: Sequence[str] = (),
        hsts_max_age_s: int = 0,
        stats: HttpGuardStats | None = None,
    ) -> None:
        self._app = app
        self._limiter = limiter
        self._rate = rate
        self._clock = clock
        # The dashboard may be served elsewhere and talk to this cloud: its
        # origins (and their WebSocket forms) may be connected to.
        extra: list[str] = []
        for origin in allowed_origins:
            extra.append(origin)
            if origin.startswith(("http://", "https://")):
                extra.append("ws" + origin.removeprefix("http"))
        self._csp = content_security_policy(extra).encode()
        self._csp_docs = content_security_policy(extra, docs=True).encode()
        self._hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode()
        self._hsts_on = hsts_max_age_s > 0
        self.stats = stats or HttpGuardStats()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(LIMITED_PREFIXES):
            client = scope.get("client")
            address = client[0] if client else "unknown"
            try:
                decision = await self._limiter.take("http", address, self._rate, self._clock())
            except RedisError:
                # Fail open: /auth and the profiles work without Redis, and a limiter
                # outage must not take them down with it.
                log.warning("HTTP rate limit not checked: shared store unreachable")
                decision = ALLOWED
            if not decision.allowed:
                self.stats.refused += 1
                await self._too_many(scope, send, decision.retry_after_header)
                return
        await self._app(scope, receive, self._with_headers(scope, send))

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        csp = self._csp_docs if scope.get("path", "").startswith(_DOCS_PATHS) else self._csp
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
                if https and self._hsts_on and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", self._hsts))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers

    async def _too_many(self, scope: Scope, send: Send, retry_after: str) -> None:
        body = json.dumps(
            {
                "detail": f"over {self._rate.describe('requests')} from this address; "
                f"retry in {retry_after} s",
                "code": "rate_limited",
            }
        ).encode()
        await self._with_headers(scope, send)(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
