"""The JWT signing key: Ed25519, created on first start, kept as PKCS#8 PEM (mode 0600).

Its ``kid`` is the RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical
public JWK), so the same key always has the same ``kid`` on every process and
after every restart, without storing it anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ems.authsvc.errors import AuthConfigError
from ems.authsvc.files import ensure_private_dir, read_or_create

__all__ = [
    "ALGORITHM",
    "KEY_FILE",
    "SigningKey",
    "b64url",
    "jwk_thumbprint",
    "load_or_create_signing_key",
    "public_jwk",
]

#: The JWS ``alg`` of every token this service signs.
ALGORITHM = "EdDSA"
#: File name of the signing key inside the auth directory.
KEY_FILE = "jwt-ed25519.pem"


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 members of an Ed25519 public key: ``kty``, ``crv``, ``x``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required members, sorted, no whitespace."""
    required = {
        "OKP": ("crv", "kty", "x"),
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
    }
    try:
        members = {name: jwk[name] for name in required[jwk["kty"]]}
    except KeyError as exc:
        raise ValueError(f"JWK lacks {exc}") from None
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The private key and the public facts derived from it."""

    private_key: Ed25519PrivateKey
    kid: str
    path: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        """The public key as published in the JWKS."""
        return {**public_jwk(self.public_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}


def load_or_create_signing_key(auth_dir: Path) -> SigningKey:
    """Read ``auth_dir/jwt-ed25519.pem``, creating the directory and key on first use."""
    ensure_private_dir(auth_dir)
    path = auth_dir / KEY_FILE
    pem = read_or_create(path, _new_pem)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise AuthConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuthConfigError(f"{path}: expected an Ed25519 key, found {type(key).__name__}")
    return SigningKey(key, jwk_thumbprint(public_jwk(key.public_key())), path)


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
