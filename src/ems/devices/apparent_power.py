"""The inverter's apparent-power circle: how P (W) and Q (var) share one rating (VA).

An inverter's current, hence ``sqrt(P² + Q²)``, is bounded by its rated apparent
power ``S``. When a pair does not fit, one of them yields:

* ``active`` priority (the default, "watt priority"): P keeps what it asked for
  (up to ``S``) and Q gets what the circle leaves beside it. Energy yield is
  never lost to reactive power; most inverters ship this way.
* ``reactive`` priority ("var priority"): Q keeps what it asked for (up to its
  own limit) and P is reduced. IEEE 1547-2018 §5.3 lets the utility require
  this for voltage regulation (volt-var), at the cost of curtailed energy.

Signs: P as the device reports it (either sign), Q > 0 injecting (over-excited,
raises the voltage), Q < 0 absorbing.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import Field

from ems.devices.base import SimulatorConfig

__all__ = ["ApparentPower", "Priority", "ReactiveConfig", "share"]

# IEEE 1547-2018 Table 7: a category B DER injects and absorbs reactive power up
# to 44 % of its rated apparent power.
CATEGORY_B_VAR_SHARE = 0.44


class Priority(StrEnum):
    """Which of P and Q yields when both do not fit in the rated apparent power."""

    ACTIVE = "active"
    REACTIVE = "reactive"


class ReactiveConfig(SimulatorConfig):
    """Reactive-power parameters shared by the inverter-based simulators."""

    rated_apparent_power_va: float | None = Field(
        default=None,
        gt=0,
        description="Rated apparent power limiting P and Q together (VA); "
        "default: the device's rated active power.",
    )
    max_reactive_power_var: float | None = Field(
        default=None,
        gt=0,
        description="Largest reactive power either way (var); default: 44 % of the rated "
        "apparent power (IEEE 1547-2018 category B).",
    )
    reactive_priority: Priority = Field(
        default=Priority.ACTIVE,
        description="Which yields when P and Q do not both fit: 'active' (Q yields) or "
        "'reactive' (P yields, as a utility may require for volt-var).",
    )

    def apparent_power(self, rated_active_w: float) -> ApparentPower:
        """The rating of a device whose rated active power is ``rated_active_w``."""
        rated_va = self.rated_apparent_power_va or rated_active_w
        max_var = self.max_reactive_power_var or CATEGORY_B_VAR_SHARE * rated_va
        return ApparentPower(rated_va, max_var, self.reactive_priority)


class ApparentPower:
    """One inverter's rating: ``rated_va`` for P and Q together, ``max_var`` for Q alone."""

    __slots__ = ("max_var", "priority", "rated_va")

    def __init__(self, rated_va: float, max_var: float, priority: Priority) -> None:
        self.rated_va = rated_va
        self.max_var = min(max_var, rated_va)
        self.priority = priority

    def share(self, p_w: float, q_var: float) -> tuple[float, float]:
        """``(P, Q)`` delivered for wanted ``p_w`` and ``q_var``; ``sqrt(P²+Q²) <= rated_va``."""
        return share(p_w, q_var, self.rated_va, self.max_var, self.priority)

    def available_var(self, p_w: float) -> float:
        """Reactive power (var, >= 0, either direction) the device can give beside ``p_w``."""
        if self.priority is Priority.REACTIVE:
            return self.max_var
        return min(self.max_var, _leg(self.rated_va, p_w))


def share(
    p_w: float, q_var: float, rated_va: float, max_var: float, priority: Priority
) -> tuple[float, float]:
    """See :meth:`ApparentPower.share`."""
    q = min(max(q_var, -max_var), max_var)
    if priority is Priority.ACTIVE:
        p = min(max(p_w, -rated_va), rated_va)
        q_room = _leg(rated_va, p)
        return p, min(max(q, -q_room), q_room)
    q = min(max(q, -rated_va), rated_va)
    p_room = _leg(rated_va, q)
    return min(max(p_w, -p_room), p_room), q


def _leg(hypotenuse: float, other: float) -> float:
    """The other leg of a right triangle; 0 when ``other`` already fills the hypotenuse."""
    return math.sqrt(max(hypotenuse * hypotenuse - other * other, 0.0))
