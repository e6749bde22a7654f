"""Where the cloud's edge socket and HTTP API live, derived from one base URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["EDGE_WS_PATH", "PROFILES_PATH", "CloudEndpoints", "cloud_endpoints"]

EDGE_WS_PATH = "/ws/edge"
PROFILES_PATH = "/api/profiles"

_WS_FOR = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_FOR = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    ws_url: str  # e.g. ws://127.0.0.1:8000/ws/edge
    http_base: str  # e.g. http://127.0.0.1:8000 (no trailing slash)

    @property
    def profiles_url(self) -> str:
        return self.http_base + PROFILES_PATH


def cloud_endpoints(url: str) -> CloudEndpoints:
    """Derive both endpoints from the cloud's base URL.

    ``http(s)://`` and ``ws(s)://`` are both accepted and TLS is kept either way
    (``https`` ↔ ``wss``). A path prefix is kept (a cloud behind a reverse proxy
    at ``/ems``); a URL that already ends in ``/ws/edge`` is accepted too.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _WS_FOR or not parts.hostname:
        raise ValueError(f"cloud URL must be http(s):// or ws(s)://host[:port]: {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"cloud URL must not have a query or fragment: {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith(EDGE_WS_PATH):
        path = path[: -len(EDGE_WS_PATH)]
    ws_url = urlunsplit((_WS_FOR[scheme], parts.netloc, path + EDGE_WS_PATH, "", ""))
    http_base = urlunsplit((_HTTP_FOR[scheme], parts.netloc, path, "", ""))
    return CloudEndpoints(ws_url, http_base)
