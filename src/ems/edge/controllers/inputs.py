"""What closed-loop controllers share: finding their devices, reading fresh inputs.

A controller must never act on a number passed off as current: an input with
no value, a non-number or an old timestamp (a device that stopped answering)
makes :func:`read_fresh` say why instead of returning it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ems.edge.context import CycleContext
from ems.profiles import DeviceProfile

__all__ = ["Inputs", "Missing", "device_of_type", "read_fresh"]


@dataclass(frozen=True, slots=True)
class Missing:
    """Why the inputs cannot be used this cycle (``state`` is a stable lower_snake code)."""

    state: str  # "missing_inputs" | "stale_inputs"
    detail: str


#: Address -> value of inputs read this cycle.
Inputs = dict[str, float]


def read_fresh(ctx: CycleContext, addresses: Sequence[str], max_age_s: float) -> Inputs | Missing:
    """The numeric inputs at ``addresses`` if each has a value at most ``max_age_s`` old."""
    values: Inputs = {}
    for address in addresses:
        sample = ctx.snapshot.get(address)
        value = None if sample is None else sample.value
        if sample is None or isinstance(value, bool) or not isinstance(value, int | float):
            return Missing("missing_inputs", f"no numeric value for {address}")
        age_s = ctx.now_s - sample.ts
        if age_s > max_age_s:
            return Missing(
                "stale_inputs", f"{address} is {age_s:.0f} s old (limit {max_age_s:g} s)"
            )
        values[address] = float(value)
    return values


def device_of_type(
    devices: Mapping[str, DeviceProfile], wanted: str | None, profile_type: str, field: str
) -> str:
    """The device a controller acts on: ``wanted``, else the site's only one of its type.

    Raises ``ValueError`` naming the parameter when there is none or it is ambiguous.
    """
    of_type = sorted(d for d, p in devices.items() if p.type == profile_type)
    if wanted is not None:
        if wanted not in of_type:
            raise ValueError(f"{field}: {wanted!r} is not a {profile_type} of this site")
        return wanted
    if len(of_type) != 1:
        found = ", ".join(of_type) or "none"
        raise ValueError(f"{field}: give the {profile_type} to use (this site has: {found})")
    return of_type[0]
