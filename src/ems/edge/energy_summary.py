"""The energy and cost figures of a simulated run (DESIGN.md §13), from the power at each cycle.

Each cycle's grid and battery power flows for one cycle period from the cycle's
time, exactly as the row of ``ems simulate``'s CSV shows it, so the figures can
be checked against the CSV by summing its columns:

- ``import_kwh`` / ``export_kwh``: grid energy drawn / fed in (``_sum/GridActivePower``
  above / below 0);
- ``cost``: energy at the tariff's prices plus each local month's demand charge,
  in the tariff's ``currency``; ``null`` without a ``tariff:`` block, because
  no tariff means an unknown price, not a free one;
- ``peak_import_15min_w``: the highest mean import over a quarter hour;
- ``battery_throughput_kwh``: energy in and out of all batteries, AC side;
- ``battery_sign_changes``: how often a battery went from charging to
  discharging or back (0 W in between does not reset it), summed over batteries:
  the flicker a good controller avoids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from ems.tariff import CostAccumulator, Tariff

__all__ = ["SiteSummary"]


class SiteSummary:
    def __init__(self, tariff: Tariff | None, timezone: str, batteries: Sequence[str]) -> None:
        """``batteries``: the ids of the battery devices whose power is given to :meth:`add`."""
        self._tariff = tariff
        self._cost = CostAccumulator(tariff, ZoneInfo(timezone))
        self._throughput_wh = 0.0
        self._last_sign = dict.fromkeys(batteries, 0)
        self._sign_changes = 0

    def add(
        self,
        start_s: float,
        duration_s: float,
        grid_w: float | None,
        battery_w: Mapping[str, float | None],
    ) -> None:
        """One cycle: ``grid_w`` (> 0 import) and each battery's power (> 0 discharging)
        flowing for ``duration_s`` from ``start_s``. A missing value counts as 0 W."""
        self._cost.add(start_s, duration_s, grid_w or 0.0)
        for device, power in battery_w.items():
            p = power or 0.0
            self._throughput_wh += abs(p) * duration_s / 3600.0
            sign = (p > 0) - (p < 0)
            if sign:
                if self._last_sign.get(device, 0) == -sign:
                    self._sign_changes += 1
                self._last_sign[device] = sign

    def result(self) -> dict[str, float | int | str | None]:
        months = self._cost.months()
        return {
            "import_kwh": sum(m.import_kwh for m in months),
            "export_kwh": sum(m.export_kwh for m in months),
            "cost": None if self._tariff is None else sum(m.cost for m in months),
            "currency": None if self._tariff is None else self._tariff.currency,
            "peak_import_15min_w": max((m.peak_import_15min_w for m in months), default=0.0),
            "battery_throughput_kwh": self._throughput_wh / 1000.0,
            "battery_sign_changes": self._sign_changes,
        }
