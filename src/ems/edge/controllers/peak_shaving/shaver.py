"""The peak-shaving rule for one cycle, shared by fixed and dynamic peak shaving.

Given the cycle's inputs and a threshold it narrows (and, alone, writes) the
battery's setpoint as :mod:`ems.edge.controllers.peak_shaving.controller`
describes; it keeps the one piece of state the rule needs between cycles
(whether a reserve is being restored after a peak).
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.edge.context import CycleContext
from ems.edge.controllers.inputs import BatteryAtGrid, Inputs

__all__ = ["Shaver", "Thresholds"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    peak_import_w: float  # import above this is discharged
    recharge_below_w: float  # the battery recharges only while import is below this
    reserve_soc_pct: float = 0.0
    reserve_hysteresis_pct: float = 2.0


class Shaver:
    """Applies :class:`Thresholds` to one cycle; returns the state to report."""

    def __init__(self, channels: BatteryAtGrid) -> None:
        self._ch = channels
        self.output = channels.setpoint
        self._restoring = False  # recharging the reserve after a peak used it

    def reset(self) -> None:
        self._restoring = False

    def act(self, ctx: CycleContext, inputs: Inputs, t: Thresholds) -> str:
        ch = self._ch
        import0_w = inputs[ch.grid_w] + inputs[ch.battery_w]
        max_discharge_w = inputs[ch.max_discharge_w]
        max_charge_w = inputs[ch.max_charge_w]
        alone = ctx.staged(self.output) is None
        if import0_w > t.peak_import_w:
            need_w = min(import0_w - t.peak_import_w, max_discharge_w)
            ctx.narrow(
                self.output,
                f"import {import0_w:.0f} W over the peak {t.peak_import_w:g} W",
                min=need_w,
            )
            own_w = need_w
            state = "shaving"
            soc_pct = inputs.get(ch.soc)
            if soc_pct is not None and soc_pct <= t.reserve_soc_pct:
                # The reserve is for the peak: no more of it goes to the rest of the load.
                ctx.narrow(self.output, f"SOC {soc_pct:.1f} % in the reserve", max=need_w)
        else:
            room_w = min(max(t.recharge_below_w - import0_w, 0.0), max_charge_w)
            ctx.narrow(
                self.output,
                f"import {import0_w:.0f} W: recharge at most {room_w:.0f} W "
                f"(below {t.recharge_below_w:g} W)",
                min=-room_w,
            )
            own_w = -room_w
            state = "recharging" if room_w > 0 else "standby"
            if t.reserve_soc_pct > 0:
                state = self._keep_reserve(ctx, inputs[ch.soc], room_w, t) or state
        if alone:
            ctx.write(self.output, own_w)
        return state

    def _keep_reserve(
        self, ctx: CycleContext, soc_pct: float, room_w: float, t: Thresholds
    ) -> str | None:
        """Outside a peak: narrow the battery to keep or restore the reserve; the state to
        report when it did."""
        if soc_pct < t.reserve_soc_pct - t.reserve_hysteresis_pct:
            self._restoring = True
        elif soc_pct >= t.reserve_soc_pct:
            self._restoring = False
        if self._restoring:
            ctx.narrow(
                self.output,
                f"SOC {soc_pct:.1f} % below the reserve {t.reserve_soc_pct:g} %: recharge "
                f"{room_w:.0f} W",
                max=-room_w,
            )
            return "restoring_reserve"
        if soc_pct <= t.reserve_soc_pct:
            ctx.narrow(
                self.output,
                f"SOC {soc_pct:.1f} % at the reserve {t.reserve_soc_pct:g} %: kept for peaks",
                max=0.0,
            )
            return "holding_reserve"
        return None
