"""Edge API keys: the format, generation and hashing (no Django needed).

A key reads ``ems_<key_id>_<secret>``: ``key_id`` is a short public identifier
(12 hex digits) that finds the row, ``secret`` is 32 bytes from :mod:`secrets`
(256 bits), base64url. Only ``sha256(key)`` is stored. A slow password hash
(PBKDF2, Argon2) exists to make guessing *low-entropy* passwords expensive; a
256-bit random secret cannot be guessed at any hash speed, so a fast hash is as
safe here and keeps the check cheap on every edge connection.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["KEY_ID_HEX_CHARS", "SECRET_BYTES", "hash_key", "key_matches", "new_key", "parse_key"]

#: Length of the public key id [hex digits] (48 bits: unique by chance, and enforced).
KEY_ID_HEX_CHARS = 12
#: Randomness of the secret part [bytes].
SECRET_BYTES = 32

_KEY_RE = re.compile(r"^ems_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, plaintext_key)``."""
    key_id = secrets.token_hex(KEY_ID_HEX_CHARS // 2)
    return key_id, f"ems_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def parse_key(api_key: str) -> str | None:
    """The key id of a well-formed key, else ``None``."""
    match = _KEY_RE.fullmatch(api_key)
    return match.group(1) if match else None


def hash_key(api_key: str) -> str:
    """SHA-256 of the whole key (key id included), lowercase hex."""
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def key_matches(api_key: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the stored hash."""
    return hmac.compare_digest(hash_key(api_key), stored_hash)
