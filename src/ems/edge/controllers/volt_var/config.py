"""Parameters of the volt-var controller, with IEEE 1547-2018 category B defaults.

IEEE 1547-2018 Table 8 (voltage-reactive power settings, category B defaults),
with V_ref = V_N: V1 = 0.92, V2 = 0.98, V3 = 1.02, V4 = 1.08 pu; Q1 = +44 %
(injecting), Q2 = Q3 = 0, Q4 = -44 % (absorbing) of the nameplate apparent
power; open-loop response time 5 s (adjustable 1-90 s).
"""

from __future__ import annotations

import itertools

from pydantic import Field, field_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["CATEGORY_B_CURVE", "CurvePoint", "VoltVarParams"]


class CurvePoint(ControllerParams):
    """One point of the Q(U) curve."""

    v_pu: float = Field(gt=0, lt=2, description="Voltage, per unit of nominal_voltage_v")
    q_pct: float = Field(
        ge=-100,
        le=100,
        description="Reactive power, % of rated apparent power; > 0 injecting, < 0 absorbing",
    )


CATEGORY_B_CURVE = (
    CurvePoint(v_pu=0.92, q_pct=44.0),
    CurvePoint(v_pu=0.98, q_pct=0.0),
    CurvePoint(v_pu=1.02, q_pct=0.0),
    CurvePoint(v_pu=1.08, q_pct=-44.0),
)


class VoltVarParams(ControllerParams):
    device: str = Field(description="Battery or PV inverter whose SetReactivePower is written")
    voltage_device: str | None = Field(
        default=None,
        description="Device whose Voltage is followed; default: the site's only grid meter",
    )
    nominal_voltage_v: float = Field(
        default=230.0, gt=0, allow_inf_nan=False, description="1.0 pu of the curve [V]"
    )
    curve: tuple[CurvePoint, ...] = Field(
        default=CATEGORY_B_CURVE,
        description="Q(U) points, voltage strictly increasing and reactive power not "
        "increasing; held flat beyond the first and last point",
    )
    response_time_s: float = Field(
        default=5.0,
        ge=0,
        le=90,
        allow_inf_nan=False,
        description="Open-loop response time: 90 % of a step reached after it; 0 = at once [s]",
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: 0 var is written [s]",
    )

    @field_validator("curve")
    @classmethod
    def _monotonic(cls, curve: tuple[CurvePoint, ...]) -> tuple[CurvePoint, ...]:
        if len(curve) < 2:
            raise ValueError("needs at least two points")
        for i, (a, b) in enumerate(itertools.pairwise(curve), start=1):
            if b.v_pu <= a.v_pu:
                raise ValueError(f"point {i}: v_pu {b.v_pu} does not increase (previous {a.v_pu})")
            # Q rising with U would feed a voltage rise back into itself.
            if b.q_pct > a.q_pct:
                raise ValueError(
                    f"point {i}: q_pct {b.q_pct} rises with the voltage (previous {a.q_pct})"
                )
        return curve
