"""Verifying access tokens issued by the auth service, with keys from its JWKS.

Checks, in order: the header's ``alg`` is in the allowlist (before any key is
touched, so ``none`` and the "HS256 keyed with the public key" forgery fail
here), the ``kid`` names a known key (an unknown one triggers one rate-limited
JWKS refresh), the signature, issuer and audience, the times (``exp``, ``nbf``,
``iat``, against the verifier's clock with ``leeway_s``), and finally that the
token is an access token with a known role.

:class:`AuthError` ``reason`` codes: ``invalid_token`` (malformed, or a claim
missing or of the wrong type), ``algorithm_not_allowed``, ``unknown_key``,
``jwks_unavailable`` (no key could be fetched yet), ``invalid_signature``,
``wrong_issuer``, ``wrong_audience``, ``expired``, ``wrong_token_type``, and
``revoked`` (raised by the caller that checks :mod:`ems.cloud.auth.revocations`).

The ``edges`` claim lists the edges the user may see and command (``"*"``: every
edge); an ``admin`` token without the claim (a superuser's, issued before
organisations) sees every edge, an organisation admin's lists its organisations'
edges, and a token of another role without the claim grants none. The optional
``view`` claim lists the edges among them the user may only view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt.types import Options

from ems.clock import Clock, RealClock
from ems.errors import EmsError

__all__ = [
    "ALL_EDGES",
    "REASONS",
    "ROLES",
    "SUPPORTED_ALGORITHMS",
    "AuthError",
    "Claims",
    "JwksProvider",
    "JwtVerifier",
    "jwks_from_url",
    "jwks_in_process",
]

log = logging.getLogger(__name__)

#: Returns the JWKS document (``{"keys": [...]}``); may raise when unreachable.
JwksProvider = Callable[[], Awaitable[dict[str, Any]]]

REASONS = frozenset(
    {
        "invalid_token",
        "algorithm_not_allowed",
        "unknown_key",
        "jwks_unavailable",
        "invalid_signature",
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "wrong_token_type",
        "revoked",
    }
)

#: The ``edges`` claim's wildcard: every edge.
ALL_EDGES = "*"
#: More grants than this in one token are refused (a token also travels in URLs).
MAX_EDGES_CLAIM = 500

#: Asymmetric algorithms only. With an HMAC algorithm allowed, a public key taken
#: for an HMAC secret lets anyone forge tokens; ``none`` is no signature at all.
SUPPORTED_ALGORITHMS = frozenset({"EdDSA", "ES256"})

#: The roles the auth service issues (``ems.authsvc.identity.Role``; the cloud does
#: not import the Django side). A token with any other role is refused.
ROLES = frozenset({"viewer", "operator", "admin"})

#: Tokens longer than this are refused before parsing [characters].
MAX_TOKEN_CHARS = 8192


class AuthError(EmsError):
    """A token was refused. ``reason`` is a stable code (see :data:`REASONS`), ``detail``
    a human-readable explanation; neither ever contains the token."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified access token says. Times are UTC epoch seconds."""

    username: str
    role: str
    uid: int
    exp: float
    iat: float
    jti: str
    edges: frozenset[str] | None = None
    """The edges granted; ``None``: every edge (superusers, and the ``*`` grant)."""
    view_only: frozenset[str] = frozenset()
    """Edges of :attr:`edges` where the user is only a viewer (organisations give a
    user one role in each; ``role`` is the highest)."""

    def may_access(self, edge_id: str) -> bool:
        return self.edges is None or edge_id in self.edges

    def command_edges(self) -> frozenset[str] | None:
        """The edges the user's role lets them command (``None``: every edge)."""
        if self.edges is None or not self.view_only:
            return self.edges
        return self.edges - self.view_only


class JwtVerifier:
    """Verifies access tokens against keys fetched from ``jwks_provider`` and cached.

    The key set is fetched on first use, again when a token names an unknown
    ``kid`` (at most once per ``min_refresh_interval_s``, so a flood of forged
    ``kid``s cannot hammer the auth service), and when it is older than
    ``max_age_s`` (so a key removed from the JWKS stops working). A failed fetch
    keeps the keys already known.
    """

    def __init__(
        self,
        jwks_provider: JwksProvider,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ("EdDSA",),
        leeway_s: float = 0,
        *,
        min_refresh_interval_s: float = 10.0,
        max_age_s: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        """``leeway_s`` [s] tolerates clock differences with the auth service in the
        ``exp``, ``nbf`` and ``iat`` checks; give a few seconds when they run on
        different hosts. ``clock`` defaults to the system clock."""
        refused = set(algorithms) - SUPPORTED_ALGORITHMS
        if not algorithms or refused:
            raise ValueError(
                f"algorithms {algorithms!r}: allow only {sorted(SUPPORTED_ALGORITHMS)}"
            )
        if not issuer or not audience:
            raise ValueError("issuer and audience must not be empty")
        if leeway_s < 0 or min_refresh_interval_s < 0 or max_age_s <= 0:
            raise ValueError("leeway_s and min_refresh_interval_s must be >= 0, max_age_s > 0")
        self._provider = jwks_provider
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._leeway_s = float(leeway_s)
        self._min_refresh_interval_s = min_refresh_interval_s
        self._max_age_s = max_age_s
        self._clock: Clock = clock or RealClock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # monotonic time of the last good fetch
        self._attempted_at: float | None = None  # ... of the last attempt, good or not
        self._last_error: str | None = None
        self._fetches = 0
        self._lock = asyncio.Lock()

    @property
    def fetch_count(self) -> int:
        """How many times the JWKS was requested (for metrics and tests)."""
        return self._fetches

    async def verify(self, token: str) -> Claims:
        """The claims of a valid access token; raises :class:`AuthError` otherwise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise AuthError("invalid_token", "not a JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("invalid_token", f"malformed header: {exc}") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthError("algorithm_not_allowed", f"alg {alg!r} is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("invalid_token", "the header has no kid")
        key = await self._key(kid)
        if key.algorithm_name != alg:
            raise AuthError("algorithm_not_allowed", f"key {kid} is not a {alg} key")
        payload = self._decode(token, key, alg)
        return self._claims(payload)

    async def refresh_keys(self) -> None:
        """Fetch the JWKS now unless fetched within ``min_refresh_interval_s``
        (e.g. at start, so the first connection does not wait for it)."""
        await self._refresh()

    async def _key(self, kid: str) -> jwt.PyJWK:
        if self._fetched_at is None or self._clock.monotonic() - self._fetched_at > self._max_age_s:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            await self._refresh()  # a new key after a rotation, or a forged kid
            key = self._keys.get(kid)
        if key is not None:
            return key
        if not self._keys and self._last_error is not None:
            raise AuthError("jwks_unavailable", f"no signing keys: {self._last_error}")
        raise AuthError("unknown_key", f"no signing key with kid {kid[:64]!r}")

    async def _refresh(self) -> None:
        async with self._lock:  # concurrent callers share one fetch
            now = self._clock.monotonic()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self._min_refresh_interval_s
            ):
                return
            self._attempted_at = now
            self._fetches += 1
            try:
                document = await self._provider()
                keys = self._parse_jwks(document)
            except Exception as exc:  # any failure of the provider: keep the old keys
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("JWKS fetch failed (%s); keeping %d known key(s)", exc, len(self._keys))
                return
            self._keys = keys
            self._fetched_at = now
            self._last_error = None
            log.info("JWKS: %d key(s): %s", len(keys), ", ".join(sorted(keys)))

    def _parse_jwks(self, document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS has no 'keys' list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWTError, ValueError, TypeError) as exc:  # one bad key, not all
                log.warning("JWKS: skipping key %r: %s", kid, exc)
                continue
            if isinstance(kid, str) and kid and key.algorithm_name in self._algorithms:
                keys[kid] = key
        return keys

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        # Times are checked in _claims against self._clock, not by PyJWT's own clock.
        options: Options = {
            "require": ["exp", "iat", "sub", "role", "typ", "uid", "jti", "iss", "aud"],
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        }
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                options=options,
            )
        except jwt.InvalidSignatureError:
            raise AuthError("invalid_signature", "the signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise AuthError("wrong_audience", f"audience is not {self._audience!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthError("wrong_issuer", f"issuer is not {self._issuer!r}") from None
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("algorithm_not_allowed", str(exc)) from None
        except jwt.PyJWTError as exc:
            raise AuthError("invalid_token", str(exc)) from None
        return payload

    def _claims(self, payload: Mapping[str, Any]) -> Claims:
        now = self._clock.time()
        exp = _number(payload, "exp")
        iat = _number(payload, "iat")
        if exp <= now - self._leeway_s:
            raise AuthError("expired", f"expired {now - exp:.0f} s ago")
        if iat > now + self._leeway_s:
            raise AuthError("invalid_token", "issued in the future (check the clocks)")
        if "nbf" in payload and _number(payload, "nbf") > now + self._leeway_s:
            raise AuthError("invalid_token", "not valid yet (check the clocks)")
        if payload.get("typ") != "access":
            raise AuthError("wrong_token_type", f"typ {payload.get('typ')!r} is not 'access'")
        sub, role, uid, jti = (payload.get(name) for name in ("sub", "role", "uid", "jti"))
        if not isinstance(sub, str) or not sub:
            raise AuthError("invalid_token", "sub must be a non-empty string")
        if role not in ROLES:
            raise AuthError("invalid_token", f"unknown role {str(role)[:32]!r}")
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise AuthError("invalid_token", "uid must be an integer")
        if not isinstance(jti, str) or not jti:
            raise AuthError("invalid_token", "jti must be a non-empty string")
        return Claims(
            username=sub,
            role=str(role),
            uid=uid,
            exp=exp,
            iat=iat,
            jti=jti,
            edges=_edges(payload.get("edges"), str(role)),
            view_only=frozenset(_edges(payload.get("view"), "viewer") or ()),
        )


def _edges(claim: object, role: str) -> frozenset[str] | None:
    if claim is not None and (
        not isinstance(claim, list)
        or len(claim) > MAX_EDGES_CLAIM
        or not all(isinstance(e, str) and e for e in claim)
    ):
        raise AuthError("invalid_token", "edges must be a list of edge ids")
    # An admin's token without the claim predates organisations: a superuser's.
    if (role == "admin" and claim is None) or (claim is not None and ALL_EDGES in claim):
        return None
    return frozenset(claim or ())


def _number(payload: Mapping[str, Any], name: str) -> float:
    value = payload.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AuthError("invalid_token", f"{name} must be a number of seconds")
    return float(value)


def jwks_from_url(url: str, client: httpx.AsyncClient, *, timeout_s: float = 5.0) -> JwksProvider:
    """A provider that GETs the JWKS at ``url`` (e.g. ``https://auth.example/auth/jwks.json``)
    with ``client``, waiting at most ``timeout_s`` [s]."""

    async def fetch() -> dict[str, Any]:
        response = await client.get(url, timeout=timeout_s, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not return a JSON object")
        return document

    return fetch


def jwks_in_process(source: Callable[[], dict[str, Any]]) -> JwksProvider:
    """A provider for an auth service configured in this process: calls ``source``
    (e.g. :func:`ems.authsvc.jwks`) in a worker thread."""

    async def fetch() -> dict[str, Any]:
        return await asyncio.to_thread(source)

    return fetch
