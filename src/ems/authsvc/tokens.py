"""Issuing access and refresh JWTs, and checking a refresh token (no Django needed).

Claims of both kinds: ``iss``, ``aud``, ``sub`` (username), ``role``, ``uid`` (user
id), ``iat``, ``nbf``, ``exp`` (epoch seconds, with a fraction: a token issued
in the same second as, but after, a revocation must not be mistaken for an
older one), ``jti`` (uuid4) and ``typ`` (``access`` or ``refresh``). An access
token also carries ``edges``: the edge ids the user may see and command, or
``["*"]`` for every edge. A refresh token also carries ``sv``, a digest that
changes when the user's password changes, so a new password ends old sessions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from ems.authsvc.errors import AuthConfigError
from ems.authsvc.signing import ALGORITHM, SigningKey

__all__ = [
    "InvalidRefresh",
    "TokenPolicy",
    "decode_access",
    "decode_refresh",
    "issue",
    "token_body",
]

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Who signs, for whom, and for how long [s]."""

    issuer: str = "ems-auth"
    audience: str = "ems-cloud"
    access_ttl_s: int = 900
    refresh_ttl_s: int = 8 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenPolicy:
        """``EMS_JWT_ISSUER``, ``EMS_JWT_AUDIENCE``, ``EMS_JWT_ACCESS_TTL_S``,
        ``EMS_JWT_REFRESH_TTL_S``; unset ones keep their defaults."""
        default = cls()
        return cls(
            issuer=environ.get("EMS_JWT_ISSUER") or default.issuer,
            audience=environ.get("EMS_JWT_AUDIENCE") or default.audience,
            access_ttl_s=_ttl(environ, "EMS_JWT_ACCESS_TTL_S", default.access_ttl_s),
            refresh_ttl_s=_ttl(environ, "EMS_JWT_REFRESH_TTL_S", default.refresh_ttl_s),
        )


def _ttl(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise AuthConfigError(f"{name}={text!r}: expected a positive whole number of seconds")
    return value


def issue(
    key: SigningKey,
    policy: TokenPolicy,
    *,
    typ: str,
    username: str,
    role: str,
    uid: int,
    now_s: float,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed token of kind ``typ`` issued at ``now_s`` (epoch seconds)."""
    ttl_s = policy.access_ttl_s if typ == ACCESS else policy.refresh_ttl_s
    claims: dict[str, Any] = {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": username,
        "role": role,
        "uid": uid,
        "iat": now_s,
        "nbf": now_s,
        "exp": now_s + ttl_s,
        "jti": str(uuid.uuid4()),
        "typ": typ,
        **(extra or {}),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def token_body(
    policy: TokenPolicy, *, access: str, refresh: str, username: str, role: str
) -> dict[str, Any]:
    """The JSON body of ``POST /auth/token`` and ``POST /auth/token/refresh``."""
    return {
        "access": access,
        "refresh": refresh,
        "token_type": "Bearer",
        "expires_in": policy.access_ttl_s,
        "user": username,
        "role": role,
    }


class InvalidRefresh(Exception):
    """A refresh token was refused; ``str()`` says why (safe to return to the client)."""


def decode_refresh(key: SigningKey, policy: TokenPolicy, token: str) -> dict[str, Any]:
    """The claims of a valid refresh token signed by ``key``; raises :class:`InvalidRefresh`."""
    return _decode(key, policy, token, REFRESH)


def decode_access(key: SigningKey, policy: TokenPolicy, token: str) -> dict[str, Any]:
    """The claims of a valid access token signed by ``key`` (for ``POST /auth/logout``);
    raises :class:`InvalidRefresh` (the same refusals as a refresh token's)."""
    return _decode(key, policy, token, ACCESS)


def _decode(key: SigningKey, policy: TokenPolicy, token: str, typ: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != key.kid:
            raise InvalidRefresh("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            options={"require": ["exp", "iat", "sub", "uid", "typ", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidRefresh("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidRefresh(f"invalid token: {exc}") from None
    if claims.get("typ") != typ:
        raise InvalidRefresh(f"not a{'n' if typ == ACCESS else ''} {typ} token")
    if not isinstance(claims.get("uid"), int) or not isinstance(claims.get("sub"), str):
        raise InvalidRefresh("invalid token: bad sub or uid")
    return claims
