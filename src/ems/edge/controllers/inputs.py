"""What closed-loop controllers share: finding their devices, reading fresh inputs.

A controller must never act on a number passed off as current: an input with
no value, a non-number or an old timestamp (a device that stopped answering)
makes :func:`read_fresh` say why instead of returning it.

A battery's ``Soc`` is read from its ``SocEstimate`` when the edge estimates it
(DESIGN §17: ``estimator:`` on the device) and the estimate is fresh: every
controller that reads SOC through :func:`read_fresh` uses the estimate without
knowing of it. Without a fresh estimate the BMS's own ``Soc`` is used, so an
estimator that stalls never stops the site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ems.dal import Sample
from ems.edge.context import CycleContext
from ems.profiles import DeviceProfile

__all__ = ["BatteryAtGrid", "Inputs", "Missing", "battery_at_grid", "device_of_type", "read_fresh"]


@dataclass(frozen=True, slots=True)
class Missing:
    """Why the inputs cannot be used this cycle (``state`` is a stable lower_snake code)."""

    state: str  # "missing_inputs" | "stale_inputs"
    detail: str


_SOC_SUFFIX = "/Soc"
_ESTIMATE_SUFFIX = "/SocEstimate"

#: Address -> value of inputs read this cycle.
Inputs = dict[str, float]


def read_fresh(ctx: CycleContext, addresses: Sequence[str], max_age_s: float) -> Inputs | Missing:
    """The numeric inputs at ``addresses`` if each has a value at most ``max_age_s`` old."""
    values: Inputs = {}
    for address in addresses:
        sample = _soc_estimate(ctx, address, max_age_s) or ctx.snapshot.get(address)
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


def _soc_estimate(ctx: CycleContext, address: str, max_age_s: float) -> Sample | None:
    """The fresh ``SocEstimate`` standing in for the ``Soc`` at ``address``, if any."""
    if not address.endswith(_SOC_SUFFIX):
        return None
    estimate = ctx.snapshot.get(address[: -len(_SOC_SUFFIX)] + _ESTIMATE_SUFFIX)
    if estimate is None or isinstance(estimate.value, bool):
        return None
    if not isinstance(estimate.value, int | float) or ctx.now_s - estimate.ts > max_age_s:
        return None
    return estimate


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


@dataclass(frozen=True, slots=True)
class BatteryAtGrid:
    """The channels of a controller that sets a battery by what the grid meter reads."""

    grid_w: str  # <grid>/ActivePower, > 0 import
    battery_w: str  # <battery>/ActivePower, > 0 discharge
    soc: str
    max_charge_w: str
    max_discharge_w: str
    setpoint: str  # <battery>/SetActivePower, what the controller writes


def battery_at_grid(
    devices: Mapping[str, DeviceProfile], battery: str | None, grid: str | None
) -> BatteryAtGrid:
    """The channels of the ``battery`` and ``grid`` parameters' devices (each: the site's
    only one of its type when not given; ``ValueError`` as :func:`device_of_type`)."""
    battery_id = device_of_type(devices, battery, "battery", "battery")
    grid_id = device_of_type(devices, grid, "grid_meter", "grid")
    return BatteryAtGrid(
        grid_w=f"{grid_id}/ActivePower",
        battery_w=f"{battery_id}/ActivePower",
        soc=f"{battery_id}/Soc",
        max_charge_w=f"{battery_id}/MaxChargePower",
        max_discharge_w=f"{battery_id}/MaxDischargePower",
        setpoint=f"{battery_id}/SetActivePower",
    )
