"""JwtVerifier: signature, algorithm allowlist, claims, JWKS caching and refresh.

Tokens are made here with PyJWT and the ``cryptography`` keys directly (not with the
auth service), and the forged ones by hand, byte by byte. Time is a VirtualClock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from ems.clock import VirtualClock
from ems.cloud.auth.jwt import (
    REASONS,
    AuthError,
    Claims,
    JwtVerifier,
    jwks_from_url,
    jwks_in_process,
)
from ems.errors import EmsError

ISS = "ems-auth"
AUD = "ems-cloud"
KID = "key-1"
NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk(private_key: Any, kid: str, alg: str = "EdDSA") -> dict[str, Any]:
    to_jwk = OKPAlgorithm.to_jwk if alg == "EdDSA" else ECAlgorithm.to_jwk
    public = to_jwk(private_key.public_key(), as_dict=True)
    return {**public, "kid": kid, "alg": alg, "use": "sig"}


class FakeJwks:
    """A JWKS provider that counts its calls and can be changed or broken."""

    def __init__(self, *jwks: dict[str, Any]) -> None:
        self.document: dict[str, Any] = {"keys": list(jwks)}
        self.calls = 0
        self.error: Exception | None = None

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        copy: dict[str, Any] = json.loads(json.dumps(self.document))  # as a real fetch
        return copy


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start_s=NOW_S)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def provider(key: Ed25519PrivateKey) -> FakeJwks:
    return FakeJwks(_jwk(key, KID))


@pytest.fixture
def verifier(provider: FakeJwks, clock: VirtualClock) -> JwtVerifier:
    return JwtVerifier(provider, ISS, AUD, clock=clock)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "olga",
        "role": "operator",
        "uid": 7,
        "iat": int(NOW_S),
        "nbf": int(NOW_S),
        "exp": int(NOW_S) + 900,
        "jti": str(uuid.uuid4()),
        "typ": "access",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _token(private_key: Any, kid: str | None = KID, alg: str = "EdDSA", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(_claims(**overrides), private_key, algorithm=alg, headers=headers)


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``header.payload.`` by hand: PyJWT refuses to make the tokens attackers make."""
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join(_b64url(part) for part in parts) + "."


def _hs256(secret: bytes, claims: dict[str, Any], kid: str = KID) -> str:
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)[:-1]
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


async def _reason(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert info.value.reason in REASONS
    return info.value.reason


# --- valid tokens ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_valid_token_gives_its_claims(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    jti = str(uuid.uuid4())
    claims = await verifier.verify(_token(key, jti=jti, edges=["site-1", "site-2"]))
    assert claims == Claims(
        username="olga",
        role="operator",
        uid=7,
        exp=NOW_S + 900,
        iat=NOW_S,
        jti=jti,
        edges=frozenset({"site-1", "site-2"}),
    )
    assert claims.may_access("site-1")
    assert not claims.may_access("site-3")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("role", "edges", "granted"),
    [
        ("operator", None, frozenset()),  # no claim: no edge
        ("viewer", [], frozenset()),
        ("operator", ["*"], None),  # the wildcard: every edge
        ("admin", None, None),  # a superuser's token (no claim) sees every edge
        ("admin", ["*"], None),
        # An organisation's admin: its organisations' edges only (DESIGN 16).
        ("admin", ["site-1"], frozenset({"site-1"})),
    ],
)
async def test_the_edges_claim_gives_the_granted_edges(
    verifier: JwtVerifier,
    key: Ed25519PrivateKey,
    role: str,
    edges: list[str] | None,
    granted: frozenset[str] | None,
) -> None:
    claims = await verifier.verify(_token(key, role=role, edges=edges))
    assert claims.edges == granted


@pytest.mark.asyncio
@pytest.mark.parametrize("edges", ["site-1", [1], [""], {"site-1": True}, ["e"] * 501])
async def test_a_malformed_edges_claim_is_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey, edges: Any
) -> None:
    assert await _reason(verifier, _token(key, edges=edges)) == "invalid_token"


@pytest.mark.asyncio
async def test_keys_are_cached_between_verifications(
    verifier: JwtVerifier, provider: FakeJwks, key: Ed25519PrivateKey
) -> None:
    for _ in range(5):
        await verifier.verify(_token(key))
    assert provider.calls == 1
    assert verifier.fetch_count == 1


@pytest.mark.asyncio
async def test_concurrent_first_verifications_share_one_fetch(
    key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    gate = asyncio.Event()
    inner = FakeJwks(_jwk(key, KID))

    async def slow_provider() -> dict[str, Any]:
        await gate.wait()
        return await inner()

    verifier = JwtVerifier(slow_provider, ISS, AUD, clock=clock)
    tasks = [asyncio.create_task(verifier.verify(_token(key))) for _ in range(10)]
    await asyncio.sleep(0)  # let every task reach the fetch
    gate.set()
    results = await asyncio.gather(*tasks)
    assert {claims.username for claims in results} == {"olga"}
    assert inner.calls == 1


@pytest.mark.asyncio
async def test_es256_works_when_allowed(clock: VirtualClock) -> None:
    ec_key = generate_private_key(SECP256R1())
    verifier = JwtVerifier(
        FakeJwks(_jwk(ec_key, "ec-1", "ES256")), ISS, AUD, algorithms=("ES256",), clock=clock
    )
    claims = await verifier.verify(_token(ec_key, kid="ec-1", alg="ES256"))
    assert claims.username == "olga"


# --- time -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_expired_token_is_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    token = _token(key)
    await verifier.verify(token)
    clock.advance(900)  # exactly at exp: no longer valid
    assert await _reason(verifier, token) == "expired"


@pytest.mark.asyncio
async def test_leeway_tolerates_small_clock_differences(
    provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    verifier = JwtVerifier(provider, ISS, AUD, leeway_s=30, clock=clock)
    late = _token(key, exp=int(NOW_S) - 10)
    early = _token(key, iat=int(NOW_S) + 10, nbf=int(NOW_S) + 10)
    assert (await verifier.verify(late)).exp == NOW_S - 10
    assert (await verifier.verify(early)).iat == NOW_S + 10
    assert await _reason(verifier, _token(key, exp=int(NOW_S) - 31)) == "expired"


@pytest.mark.asyncio
async def test_a_token_from_the_future_is_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    assert await _reason(verifier, _token(key, nbf=int(NOW_S) + 60)) == "invalid_token"
    assert await _reason(verifier, _token(key, iat=int(NOW_S) + 60)) == "invalid_token"


# --- signatures and keys ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(
    verifier: JwtVerifier,
) -> None:
    impostor = Ed25519PrivateKey.generate()
    assert await _reason(verifier, _token(impostor, kid=KID)) == "invalid_signature"


@pytest.mark.asyncio
async def test_a_tampered_payload_is_refused(verifier: JwtVerifier, key: Ed25519PrivateKey) -> None:
    header, _, signature = _token(key).split(".")
    promoted = _b64url(json.dumps(_claims(role="admin")).encode())
    assert await _reason(verifier, f"{header}.{promoted}.{signature}") == "invalid_signature"


@pytest.mark.asyncio
async def test_an_unknown_kid_refreshes_the_jwks_once_then_is_refused(
    verifier: JwtVerifier, provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    await verifier.verify(_token(key))
    assert provider.calls == 1
    assert await _reason(verifier, _token(key, kid="nope")) == "unknown_key"
    assert provider.calls == 1  # fetched just now: not again within the interval
    clock.advance(10)
    assert await _reason(verifier, _token(key, kid="nope")) == "unknown_key"
    assert provider.calls == 2  # one refresh for the unknown kid
    for _ in range(20):  # a flood of unknown kids within the interval: no more fetches
        assert await _reason(verifier, _token(key, kid="nope")) == "unknown_key"
    assert provider.calls == 2
    clock.advance(10)
    assert await _reason(verifier, _token(key, kid="nope")) == "unknown_key"
    assert provider.calls == 3


@pytest.mark.asyncio
async def test_a_rotated_key_is_found_by_refreshing_the_jwks(
    verifier: JwtVerifier, provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    await verifier.verify(_token(key))
    new_key = Ed25519PrivateKey.generate()
    provider.document["keys"].append(_jwk(new_key, "key-2"))
    clock.advance(10)
    assert (await verifier.verify(_token(new_key, kid="key-2"))).username == "olga"
    assert (await verifier.verify(_token(key))).username == "olga"  # the old one still works
    assert provider.calls == 2


@pytest.mark.asyncio
async def test_a_key_removed_from_the_jwks_stops_working_after_max_age(
    provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    verifier = JwtVerifier(provider, ISS, AUD, max_age_s=60, clock=clock)
    token = _token(key, exp=int(NOW_S) + 3600)
    await verifier.verify(token)
    provider.document["keys"] = []
    clock.advance(30)
    await verifier.verify(token)  # cached
    clock.advance(31)
    assert await _reason(verifier, token) == "unknown_key"


@pytest.mark.asyncio
async def test_a_failing_jwks_keeps_the_known_keys(
    verifier: JwtVerifier, provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    token = _token(key, exp=int(NOW_S) + 3600)
    await verifier.verify(token)
    provider.error = httpx.ConnectError("auth service down")
    clock.advance(301)  # the cache is stale: a refresh is attempted and fails
    assert (await verifier.verify(token)).username == "olga"
    assert provider.calls == 2


@pytest.mark.asyncio
async def test_no_jwks_at_all_is_reported(
    provider: FakeJwks, key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    provider.error = httpx.ConnectError("auth service down")
    verifier = JwtVerifier(provider, ISS, AUD, clock=clock)
    assert await _reason(verifier, _token(key)) == "jwks_unavailable"
    provider.error = None
    clock.advance(10)
    assert (await verifier.verify(_token(key))).username == "olga"


@pytest.mark.asyncio
async def test_unusable_jwks_entries_are_skipped(
    key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    good = _jwk(key, KID)
    provider = FakeJwks(
        {"kty": "OKP", "crv": "Ed25519", "kid": "broken"},  # no "x"
        {"kty": "OKP", "crv": "Ed25519", "kid": "bad-x", "x": "!!!"},
        {"kty": "oct", "k": _b64url(b"shared secret"), "kid": "symmetric"},
        {**good, "kid": "enc", "use": "enc"},
        {k: v for k, v in good.items() if k != "kid"},
        good,
    )
    verifier = JwtVerifier(provider, ISS, AUD, clock=clock)
    assert (await verifier.verify(_token(key))).username == "olga"
    assert await _reason(verifier, _token(key, kid="enc")) == "unknown_key"
    assert await _reason(verifier, _token(key, kid="bad-x")) == "unknown_key"
    assert await _reason(verifier, _hs256(b"shared secret", _claims(), kid="symmetric")) == (
        "algorithm_not_allowed"
    )


# --- the algorithm allowlist --------------------------------------------------------------


@pytest.mark.asyncio
async def test_alg_none_is_refused_before_any_key_is_fetched(
    verifier: JwtVerifier, provider: FakeJwks
) -> None:
    for alg in ("none", "None", "NONE"):
        token = _unsigned({"alg": alg, "typ": "JWT", "kid": KID}, _claims())
        assert await _reason(verifier, token) == "algorithm_not_allowed"
    assert provider.calls == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("encoding", ["raw", "pem", "jwk-x"])
async def test_hs256_keyed_with_the_public_key_is_refused(
    verifier: JwtVerifier, provider: FakeJwks, key: Ed25519PrivateKey, encoding: str
) -> None:
    public = key.public_key()
    secret = {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk-x": _jwk(key, KID)["x"].encode(),
    }[encoding]
    assert await _reason(verifier, _hs256(secret, _claims(role="admin"))) == (
        "algorithm_not_allowed"
    )
    assert provider.calls == 0


@pytest.mark.asyncio
async def test_an_allowed_alg_that_does_not_match_the_key_is_refused(
    key: Ed25519PrivateKey, clock: VirtualClock
) -> None:
    ec_key = generate_private_key(SECP256R1())
    verifier = JwtVerifier(
        FakeJwks(_jwk(key, KID)), ISS, AUD, algorithms=("EdDSA", "ES256"), clock=clock
    )
    # An ES256 token that names the Ed25519 key's kid.
    assert await _reason(verifier, _token(ec_key, kid=KID, alg="ES256")) == (
        "algorithm_not_allowed"
    )


@pytest.mark.parametrize("algorithms", [("EdDSA", "HS256"), ("none",), ("RS256",), ()])
def test_symmetric_or_unknown_algorithms_cannot_be_allowed(
    provider: FakeJwks, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="allow only"):
        JwtVerifier(provider, ISS, AUD, algorithms=algorithms)


# --- claims -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wrong_audience_is_refused(verifier: JwtVerifier, key: Ed25519PrivateKey) -> None:
    assert await _reason(verifier, _token(key, aud="someone-else")) == "wrong_audience"


@pytest.mark.asyncio
async def test_wrong_issuer_is_refused(verifier: JwtVerifier, key: Ed25519PrivateKey) -> None:
    assert await _reason(verifier, _token(key, iss="evil-auth")) == "wrong_issuer"


@pytest.mark.asyncio
async def test_a_refresh_token_is_not_an_access_token(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    assert await _reason(verifier, _token(key, typ="refresh")) == "wrong_token_type"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"role": None},
        {"typ": None},
        {"uid": None},
        {"jti": None},
        {"iss": None},
        {"aud": None},
        {"role": "root"},
        {"uid": "7"},
        {"uid": True},
        {"exp": "tomorrow"},
        {"sub": ""},
    ],
    ids=repr,
)
async def test_missing_or_mistyped_claims_are_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey, overrides: dict[str, Any]
) -> None:
    token = jwt.encode(_claims(**overrides), key, algorithm="EdDSA", headers={"kid": KID})
    for name, value in overrides.items():
        if value is None:  # make sure the claim is really absent
            assert name not in jwt.decode(token, options={"verify_signature": False})
    assert await _reason(verifier, token) in {"invalid_token", "wrong_token_type"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "..", "e30.e30.", "x" * 9000, "eyJhbGciOiJFZERTQSJ9.e30.AA"]
)
async def test_malformed_tokens_are_refused(verifier: JwtVerifier, token: str) -> None:
    assert await _reason(verifier, token) in {"invalid_token", "algorithm_not_allowed"}


@pytest.mark.asyncio
async def test_a_token_without_kid_is_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    assert await _reason(verifier, _token(key, kid=None)) == "invalid_token"


@pytest.mark.asyncio
async def test_auth_error_names_the_reason_but_never_the_token(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    token = _token(key, aud="someone-else")
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert isinstance(info.value, EmsError)
    assert str(info.value).startswith("wrong_audience: ")
    assert token not in str(info.value)
    assert token.split(".")[2] not in info.value.detail


# --- providers ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_jwks_from_url_fetches_with_the_given_client(key: Ed25519PrivateKey) -> None:
    document = {"keys": [_jwk(key, KID)]}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/auth/jwks.json":
            return httpx.Response(200, json=document)
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await jwks_from_url("http://auth.test/auth/jwks.json", client)() == document
        broken = jwks_from_url("http://auth.test/oops", client)
        with pytest.raises(httpx.HTTPStatusError):
            await broken()
        verifier = JwtVerifier(broken, ISS, AUD)
        assert await _reason(verifier, _token(key)) == "jwks_unavailable"
    good, bad = "http://auth.test/auth/jwks.json", "http://auth.test/oops"
    assert seen == [good, bad, bad]


@pytest.mark.asyncio
async def test_jwks_in_process_calls_its_source_in_a_worker_thread() -> None:
    threads: list[int] = []

    def source() -> dict[str, Any]:
        threads.append(threading.get_ident())
        return {"keys": []}

    assert await jwks_in_process(source)() == {"keys": []}
    assert threads
    assert threads != [threading.get_ident()]


@pytest.mark.asyncio
async def test_the_view_claim_narrows_what_may_be_commanded(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    token = _token(key, role="operator", edges=["a-1", "b-1"], view=["b-1"])
    claims = await verifier.verify(token)
    assert claims.may_access("b-1")
    assert claims.command_edges() == frozenset({"a-1"})
    assert (await verifier.verify(_token(key, edges=["*"]))).command_edges() is None


@pytest.mark.asyncio
async def test_a_malformed_view_claim_is_refused(
    verifier: JwtVerifier, key: Ed25519PrivateKey
) -> None:
    with pytest.raises(AuthError, match="edges must be a list"):
        await verifier.verify(_token(key, role="operator", edges=["a-1"], view="b-1"))
