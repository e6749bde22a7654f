"""A closed loop for controller tests: a battery that follows its setpoint, a grid
meter that closes the balance, and a net load the test scripts."""

from __future__ import annotations

import itertools

from ems.edge.testing import CycleHarness

B = "battery_1"
SET = f"{B}/SetActivePower"
STATE_OF = "{}/State"


def battery(
    soc: float = 50.0,
    max_charge_w: float = 5000.0,
    max_discharge_w: float = 5000.0,
    power_w: float = 0.0,
) -> dict[str, float]:
    return {
        f"{B}/Soc": soc,
        f"{B}/MaxChargePower": max_charge_w,
        f"{B}/MaxDischargePower": max_discharge_w,
        f"{B}/ActivePower": power_w,
    }


class SiteLoop:
    """Each step: the battery delivers last cycle's setpoint, the grid takes the rest."""

    def __init__(self, h: CycleHarness, soc: float = 50.0) -> None:
        self.h = h
        self.soc = soc
        self.battery_w = 0.0

    def step(self, net_load_w: float, **limits: float) -> float:
        """One cycle at ``net_load_w`` (load − PV); returns the new setpoint [W]."""
        self.h.advance(1)
        self.h.set_many(
            {
                **battery(self.soc, power_w=self.battery_w, **limits),
                "grid/ActivePower": net_load_w - self.battery_w,
            }
        )
        self.h.cycle_once()
        out = self.h.output(SET)
        assert isinstance(out, float | int)
        self.battery_w = float(out)
        return self.battery_w

    @property
    def grid_w(self) -> float:
        sample = self.h.store.get_channel("grid/ActivePower")
        assert sample is not None and isinstance(sample.value, float | int)
        return float(sample.value)


def sign_changes(powers: list[float]) -> int:
    """Changes between charging and discharging (idle in between does not reset it)."""
    signs = [p > 0 for p in powers if p != 0]
    return sum(1 for a, b in itertools.pairwise(signs) if a != b)
