"""Checks a command value against a profile action: static limits and dynamic limits.

Shared by the cloud (before sending) and the edge's controllers (revalidation
when executing), so both judge a value the same way. Results carry the stable
reason codes of the command lifecycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ems.profiles.model import ActionSpec, Bound
from ems.protocol import reasons

__all__ = ["Limits", "Problem", "check_static", "dynamic_limits", "within"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value was refused: a stable ``reason`` code and a human ``detail``."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Limits:
    """The effective range now, in the action's unit (``None`` = unbounded)."""

    min: float | None
    max: float | None

    def clamp(self, value: float) -> float:
        if self.max is not None and value > self.max:
            value = self.max
        if self.min is not None and value < self.min:
            value = self.min
        return value

    def __str__(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "+inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}]"


#: Looks up a telemetry channel of the device by name: ``(value, ts)`` or ``None``.
Lookup = Callable[[str], "tuple[object, float] | None"]


def check_static(action: ActionSpec, value: object) -> Problem | None:
    """Type, enum and static range of the profile; ``None`` when the value fits."""
    spec = action.value
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Problem(
                reasons.INVALID_PAYLOAD, f"{action.name} takes a number, got {_kind(value)}"
            )
        if not math.isfinite(value):
            return Problem(reasons.INVALID_PAYLOAD, f"{action.name} takes a finite number")
        if (spec.min is not None and value < spec.min) or (
            spec.max is not None and value > spec.max
        ):
            unit = f" {spec.unit}" if spec.unit else ""
            return Problem(
                reasons.OUT_OF_RANGE,
                f"{value:g}{unit} is outside the static range {Limits(spec.min, spec.max)}{unit}",
            )
        return None
    if spec.type == "string":
        if not isinstance(value, str):
            return Problem(
                reasons.INVALID_PAYLOAD, f"{action.name} takes a string, got {_kind(value)}"
            )
        if spec.enum is not None and value not in spec.enum:
            return Problem(
                reasons.INVALID_PAYLOAD, f"{value!r} is not one of {', '.join(spec.enum)}"
            )
        return None
    if spec.type == "boolean" and not isinstance(value, bool):
        return Problem(
            reasons.INVALID_PAYLOAD, f"{action.name} takes true or false, got {_kind(value)}"
        )
    return None


def dynamic_limits(action: ActionSpec, lookup: Lookup, now_s: float) -> Limits | Problem:
    """The range allowed now from the device's telemetry, or why it cannot be known.

    ``no_telemetry`` when a bounding channel has no value, ``stale_telemetry``
    when it is older than the action's ``max_age_s``.
    """
    limits = action.dynamic_limits
    if limits is None:
        return Limits(action.value.min, action.value.max)
    sides: list[float | None] = []
    for bound in (limits.min, limits.max):
        if bound is None:
            sides.append(None)
            continue
        got = _bound_value(bound, lookup, now_s, limits.max_age_s)
        if isinstance(got, Problem):
            return got
        sides.append(got)
    lo, hi = sides
    # The static range still applies where telemetry would allow more.
    if action.value.min is not None:
        lo = action.value.min if lo is None else max(lo, action.value.min)
    if action.value.max is not None:
        hi = action.value.max if hi is None else min(hi, action.value.max)
    return Limits(lo, hi)


def within(limits: Limits, value: float, unit: str | None) -> Problem | None:
    """``exceeds_dynamic_limit`` (with the limit in the detail) when outside ``limits``."""
    if (limits.min is not None and value < limits.min) or (
        limits.max is not None and value > limits.max
    ):
        u = f" {unit}" if unit else ""
        return Problem(
            reasons.EXCEEDS_DYNAMIC_LIMIT, f"{value:g}{u} is outside the current limits {limits}{u}"
        )
    return None


def _bound_value(bound: Bound, lookup: Lookup, now_s: float, max_age_s: float) -> float | Problem:
    found = lookup(bound.channel)
    if found is None or found[0] is None:
        return Problem(reasons.NO_TELEMETRY, f"no value yet for {bound.channel}")
    raw, ts = found
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return Problem(reasons.NO_TELEMETRY, f"{bound.channel} is not a number")
    age = now_s - ts
    if age > max_age_s:
        return Problem(
            reasons.STALE_TELEMETRY, f"{bound.channel} is {age:.0f} s old (limit {max_age_s:g} s)"
        )
    return -float(raw) if bound.negate else float(raw)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
