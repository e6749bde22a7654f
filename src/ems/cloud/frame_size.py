"""The size of a WebSocket message as the limits count it: bytes on the wire (UTF-8)."""

from __future__ import annotations

__all__ = ["over_limit"]


def over_limit(raw: str | bytes, limit_bytes: int) -> bool:
    """Whether ``raw`` is longer than ``limit_bytes`` once encoded.

    A text frame's length in characters understates its bytes by up to four
    times; it is encoded only when that could matter, so the common small
    frame costs one ``len``.
    """
    if len(raw) > limit_bytes:
        return True
    if isinstance(raw, bytes) or len(raw) * 4 <= limit_bytes:
        return False
    return len(raw.encode("utf-8", "surrogatepass")) > limit_bytes
