"""Revocation between the auth service and the cloud processes, over Redis (DESIGN section 8).

The auth service writes, every cloud process reads; neither imports the other,
both import this.

- ``P:revoked-users`` hash: username -> "revoked before" [s, Unix epoch, float as
  text]. An access token of that user with ``iat`` before this moment is refused.
  Written before the message below is published, so a process that misses the
  message (or starts later) still finds it when it loads the hash.
- ``P:revocations`` channel: one JSON message per revocation, either
  ``{"kind": "user", "username": U, "before": S, "why": W}`` (the user's sockets
  holding an older token close at once) or
  ``{"kind": "edge_keys", "edge_id": E, "key_ids": [K, ...]}`` (the edge's socket
  authenticated with one of these keys closes).

``why`` is ``logout``, ``revoked`` (an admin ended the user's sessions) or
``claims_changed`` (role, grants or activity changed: the refresh token still
works and gives a token with the new claims).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEY_PREFIX",
    "WHY",
    "EdgeKeysRevoked",
    "UserRevoked",
    "decode_revocation",
    "revocations_channel",
    "revoked_users_key",
]

#: The same default prefix as the cloud's other shared keys (``ems.cloud.cluster``).
KEY_PREFIX = "ems"

WHY = frozenset({"logout", "revoked", "claims_changed"})


def revoked_users_key(prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:revoked-users"


def revocations_channel(prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:revocations"


@dataclass(frozen=True, slots=True)
class UserRevoked:
    """Access tokens of ``username`` issued before ``before_s`` [s, Unix epoch] are void."""

    username: str
    before_s: float
    why: str

    def encode(self) -> str:
        return json.dumps(
            {"kind": "user", "username": self.username, "before": self.before_s, "why": self.why}
        )


@dataclass(frozen=True, slots=True)
class EdgeKeysRevoked:
    """These API keys of ``edge_id`` (by public key id) no longer authenticate it."""

    edge_id: str
    key_ids: tuple[str, ...]

    def encode(self) -> str:
        return json.dumps({"kind": "edge_keys", "edge_id": self.edge_id, "key_ids": self.key_ids})


def decode_revocation(data: bytes | str) -> UserRevoked | EdgeKeysRevoked:
    """Parse a message of the revocations channel; raises :class:`ValueError` if malformed."""
    try:
        message: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    kind = message.get("kind")
    if kind == "user":
        username, before, why = message.get("username"), message.get("before"), message.get("why")
        if (
            not isinstance(username, str)
            or not username
            or isinstance(before, bool)
            or not isinstance(before, int | float)
            or why not in WHY
        ):
            raise ValueError("user revocation needs username, before (seconds) and why")
        return UserRevoked(username, float(before), str(why))
    if kind == "edge_keys":
        edge_id, key_ids = message.get("edge_id"), message.get("key_ids")
        if (
            not isinstance(edge_id, str)
            or not isinstance(key_ids, list)
            or not all(isinstance(k, str) for k in key_ids)
        ):
            raise ValueError("edge key revocation needs edge_id and key_ids")
        return EdgeKeysRevoked(edge_id, tuple(key_ids))
    raise ValueError(f"unknown kind {str(kind)[:32]!r}")
