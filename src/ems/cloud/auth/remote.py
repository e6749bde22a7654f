"""The auth service over HTTP (``EMS_AUTH_BACKEND=http``): the cloud without Django.

``GET {EMS_AUTH_URL}/auth/jwks.json`` for the keys, and
``POST {EMS_AUTH_URL}/auth/edge-keys/check`` (``{"edge_id", "api_key"}`` ->
``{"valid": bool}``) for an edge's key, with ``EMS_AUTH_SERVICE_TOKEN`` as a
bearer token: the auth service answers key checks only to the cloud.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from ems.cloud.auth.jwt import jwks_from_url
from ems.cloud.auth.port import AuthUnavailable

__all__ = ["EDGE_KEY_CHECK_PATH", "JWKS_PATH", "HttpAuth"]

log = logging.getLogger(__name__)

JWKS_PATH = "/auth/jwks.json"
EDGE_KEY_CHECK_PATH = "/auth/edge-keys/check"


class HttpAuth:
    """:class:`~ems.cloud.auth.port.AuthPort` for an auth service at ``base_url``.

    ``client`` is the seam for tests (an ``httpx.MockTransport``); by default one
    of its own, closed by :meth:`aclose`. ``timeout_s`` bounds each request [s].
    """

    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {service_token}"}
        self._timeout_s = timeout_s
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._jwks = jwks_from_url(self._base + JWKS_PATH, self._client, timeout_s=timeout_s)

    async def jwks(self) -> dict[str, Any]:
        return await self._jwks()

    async def check_edge_key(self, edge_id: str, api_key: str) -> bool:
        try:
            response = await self._client.post(
                self._base + EDGE_KEY_CHECK_PATH,
                json={"edge_id": edge_id, "api_key": api_key},
                headers=self._headers,
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            raise AuthUnavailable(f"auth service unreachable: {exc!r}") from None
        if response.status_code != 200:
            # 401/403: this cloud's EMS_AUTH_SERVICE_TOKEN is not the auth service's.
            raise AuthUnavailable(
                f"auth service answered {response.status_code} to the edge-key check"
            )
        try:
            valid = response.json().get("valid")
        except (ValueError, AttributeError):
            valid = None
        if not isinstance(valid, bool):
            raise AuthUnavailable("auth service's edge-key answer has no boolean 'valid'")
        return valid

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
