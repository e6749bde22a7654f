"""Tokens an attacker would try, made against a running test cloud's own signing key.

For the security tests: each forged token differs from a valid one in exactly
one way, and :func:`valid_token` (same claims, real key) is the control that
shows the forging itself is right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["FORGERIES", "access_claims", "forged_tokens", "signing_key", "valid_token"]

#: Forgery -> the reason code the cloud refuses it with.
FORGERIES = {
    "expired": "expired",
    "bad_signature": "invalid_signature",
    "wrong_issuer": "wrong_issuer",
    "wrong_audience": "wrong_audience",
    "alg_none": "algorithm_not_allowed",
    "hs256_with_public_key": "algorithm_not_allowed",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_claims(**changes: Any) -> dict[str, Any]:
    """The claims of an access token of the operator ``olga`` valid for 5 minutes."""
    now = time.time()
    claims: dict[str, Any] = {
        "iss": "ems-auth",
        "aud": "ems-cloud",
        "sub": "olga",
        "role": "operator",
        "uid": 1,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "typ": "access",
        "edges": ["*"],
    }
    claims.update(changes)
    return claims


def signing_key(data_dir: Path, base_url: str) -> tuple[Ed25519PrivateKey, str]:
    """The auth service's private key (from its data directory) and its ``kid``."""
    pem = (data_dir / "auth" / "jwt-ed25519.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    kid: str = httpx.get(f"{base_url}/auth/jwks.json").json()["keys"][0]["kid"]
    return key, kid


def valid_token(data_dir: Path, base_url: str, **changes: Any) -> str:
    key, kid = signing_key(data_dir, base_url)
    return jwt.encode(access_claims(**changes), key, algorithm="EdDSA", headers={"kid": kid})


def forged_tokens(data_dir: Path, base_url: str, **changes: Any) -> dict[str, str]:
    """One token per entry of :data:`FORGERIES`."""
    key, kid = signing_key(data_dir, base_url)
    claims = access_claims(**changes)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = _b64(json.dumps(claims).encode())
    header_hs = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    hs_sig = _b64(hmac.new(public_pem, f"{header_hs}.{body}".encode(), hashlib.sha256).digest())
    header_none = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    now = time.time()

    def signed(with_key: Any, **more: Any) -> str:
        return jwt.encode({**claims, **more}, with_key, algorithm="EdDSA", headers={"kid": kid})

    return {
        "expired": signed(key, exp=now - 60, iat=now - 400, nbf=now - 400),
        "bad_signature": signed(Ed25519PrivateKey.generate()),
        "wrong_issuer": signed(key, iss="evil"),
        "wrong_audience": signed(key, aud="someone-else"),
        "alg_none": f"{header_none}.{body}.",
        "hs256_with_public_key": f"{header_hs}.{body}.{hs_sig}",
    }
