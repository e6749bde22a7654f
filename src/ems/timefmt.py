"""RFC 3339 UTC timestamps, the only time format on the wire and in request/ack values."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_rfc3339", "to_rfc3339", "to_rfc3339_us"]


def to_rfc3339(epoch_s: float) -> str:
    """``1767225600.5`` → ``"2026-01-01T00:00:00.500Z"`` (millisecond precision)."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def to_rfc3339_us(epoch_s: float) -> str:
    """``1767225600.5`` → ``"2026-01-01T00:00:00.500000Z"`` (microseconds: audit records,
    whose order across cloud and edge must survive the round trip)."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def parse_rfc3339(text: str) -> float:
    """Parse an RFC 3339 timestamp with an explicit offset; return UTC epoch seconds.

    Raises ``ValueError`` for a malformed string or one without a time zone,
    because a naive time on the wire is ambiguous.
    """
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return parsed.timestamp()
