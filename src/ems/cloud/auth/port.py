"""What the cloud needs of the auth service, as a port (DESIGN 5, 8).

Two things every cloud process needs, whichever auth service it uses:

- the **JWKS**, the public keys that verify users' tokens, and
- the **edge-key check**: whether an API key is an active key of an edge.

:class:`AuthPort` is those two; :class:`ems.cloud.auth.remote.HttpAuth` answers
them over HTTP from an auth service elsewhere (``EMS_AUTH_BACKEND=http``), so
the cloud runs without Django. An auth service configured in this process
(``EMS_AUTH_BACKEND=embedded``, the default, and ``ems demo``) also answers
:class:`InProcessAuth`: it serves ``/auth``, lets the cloud read revocations
straight from its database, and answers the audit and alarm-mail look-ups
that only its database can. That adapter lives in the auth service
(``ems.authsvc.embedded``) and is loaded by name: the cloud never imports Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["AuditQuery", "AuthPort", "AuthUnavailable", "InProcessAuth"]


class AuthUnavailable(Exception):
    """The auth service did not answer (down, slow, or refused this cloud): not a wrong key."""


class AuthPort(Protocol):
    """The auth service as the cloud sees it."""

    async def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set that verifies users' tokens (``{"keys": [...]}``)."""
        ...

    async def check_edge_key(self, edge_id: str, api_key: str) -> bool:
        """Whether ``api_key`` is an active key of ``edge_id`` (compared in constant time).

        Raises :class:`AuthUnavailable` when the answer could not be had."""
        ...

    async def aclose(self) -> None:
        """Release connections; the port is not used afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """``GET /api/audit``'s filters, for the auth service's own records."""

    admin_uid: int | None
    """The admin asking: their organisations' entries. ``None``: every entry (superuser)."""
    start: datetime | None
    end: datetime | None
    actor: str | None
    kind: str | None
    """``grant.added``, or a whole family: ``grant``."""
    edge_id: str | None
    limit: int


@runtime_checkable
class InProcessAuth(AuthPort, Protocol):
    """An auth service running in this process, with its database at hand."""

    def asgi_app(self) -> Any:
        """Its ASGI app, to mount at ``/auth``."""
        ...

    async def recent_revocations(self, since_s: float) -> dict[str, float]:
        """Users revoked after ``since_s`` [s, Unix epoch]: username -> revoked before [s]."""
        ...

    async def revocation_horizon_s(self) -> float:
        """How far back revocations matter [s]: older ones concern expired tokens only."""
        ...

    async def audit_entries(self, query: AuditQuery) -> list[dict[str, Any]]:
        """User actions, newest first, as ``GET /api/audit`` shows them."""
        ...

    async def alarm_recipients(self, edge_id: str, role: str) -> list[str]:
        """E-mail addresses of the users of ``role`` who see ``edge_id``."""
        ...
