"""What a channel holds: a value and the wall-clock time it was set."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

__all__ = ["Sample", "Value", "freeze"]

#: number, bool or string for device channels; a small mapping for request/ack
#: channels; ``None`` for "no value" (e.g. a cleared request).
Value: TypeAlias = float | int | bool | str | Mapping[str, Any] | None


class Sample(NamedTuple):
    """A channel value with its timestamp (UTC, epoch seconds)."""

    value: Value
    ts: float


_PLAIN = frozenset({float, int, str, bool, type(None)})


def freeze(value: Value) -> Value:
    """Make a value safe to share between threads: mappings become read-only copies.

    Snapshots are shallow copies, so only immutable values keep them consistent.
    A ``MappingProxyType`` is copied too: it may be a live view of the caller's dict.
    """
    if type(value) in _PLAIN:  # the hot path: skip the (slow) ABC check below
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    return value
