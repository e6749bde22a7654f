"""Battery health (DESIGN 15, issue 19 item 7): cycles, throughput, SOH, remaining life.

- **Throughput**: charge + discharge energy (kWh) of the site's battery total
  (``_sum/EssActivePower``, AC side) over the period, from the 15-min rollups.
- **Equivalent full cycles** (EFC): throughput / (2 × nominal capacity).
- **SOH**: the BMS's own estimate when the site names a channel for it and it
  has a value (``soh_channel``, e.g. ``battery/SohEstimate``, DESIGN 17);
  otherwise *measured*: every charging run (consecutive quarter hours of net
  charge) that lifts the SOC by at least ``min_swing_pct`` gives a capacity
  ``energy charged / ΔSOC``; SOH is the median of those over the nominal
  capacity. The energy is metered on the AC side, so charging losses make the
  measured capacity read high by the charge efficiency (≈ 2–5 %); the SOH is
  capped at 100 %. Without a qualifying run and without a BMS value, SOH is
  ``None`` and said so.
- **Remaining useful life** at the period's cycling rate, assuming a linear
  fade from 100 % to ``eol_soh_pct`` (end of life, 80 % by default) over
  ``rated_cycles_to_eol`` EFC (6,000 by default, a typical LFP datasheet):
  remaining EFC = (SOH − EOL) / fade per EFC; days = remaining EFC / EFC per day.
  Calendar ageing is not modelled, so the figure is an upper bound for a
  lightly cycled battery.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ems.cloud.telemetry.model import HistoryPoint, LatestValue
from ems.cloud.telemetry.rollup import RollupPoint

__all__ = ["BatteryHealthConfig", "compute_battery_health"]


class BatteryHealthConfig(BaseModel):
    """The site's battery as a report sees it (all fields in the unit named)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity_wh: float = Field(gt=0, allow_inf_nan=False)  # nominal (nameplate) energy
    soc_channel: str = "battery/Soc"
    soh_channel: str | None = None
    eol_soh_pct: float = Field(default=80.0, gt=0, lt=100)
    rated_cycles_to_eol: float = Field(default=6000.0, gt=0, allow_inf_nan=False)
    min_swing_pct: float = Field(default=50.0, gt=0, le=100)


def compute_battery_health(
    config: BatteryHealthConfig,
    battery_quarters: Sequence[RollupPoint],
    soc_quarters: Sequence[HistoryPoint],
    latest: Mapping[str, LatestValue],
    period_days: float,
) -> dict[str, Any]:
    """``battery_quarters``: 15-min rollups of ``_sum/EssActivePower`` (> 0 discharging);
    ``soc_quarters``: the SOC channel in the same 15-min buckets; ``latest``: the
    newest values (for the BMS's SOH)."""
    charge_wh = sum(q.energy_out_wh for q in battery_quarters)
    discharge_wh = sum(q.energy_in_wh for q in battery_quarters)
    throughput_wh = charge_wh + discharge_wh
    efc = throughput_wh / (2.0 * config.capacity_wh)
    capacities = _measured_capacities_wh(config.min_swing_pct, battery_quarters, soc_quarters)
    soh_pct: float | None = None
    source: str
    bms = latest.get(config.soh_channel) if config.soh_channel else None
    if bms is not None and bms.value is not None:
        soh_pct, source = bms.value, f"BMS ({config.soh_channel})"
    elif capacities:
        soh_pct = min(100.0, 100.0 * statistics.median(capacities) / config.capacity_wh)
        source = f"measured over {len(capacities)} charging run(s)"
    else:
        source = f"unknown: no BMS value and no charging run of {config.min_swing_pct:g} % SOC"
    efc_per_day = efc / period_days if period_days > 0 else 0.0
    fade_pct_per_efc = (100.0 - config.eol_soh_pct) / config.rated_cycles_to_eol
    remaining_efc = None if soh_pct is None else max(soh_pct - config.eol_soh_pct, 0.0)
    if remaining_efc is not None:
        remaining_efc /= fade_pct_per_efc
    rul_days = (
        remaining_efc / efc_per_day if remaining_efc is not None and efc_per_day > 0 else None
    )
    return {
        "capacity_wh": config.capacity_wh,
        "charge_kwh": charge_wh / 1000.0,
        "discharge_kwh": discharge_wh / 1000.0,
        "throughput_kwh": throughput_wh / 1000.0,
        "equivalent_full_cycles": efc,
        "cycles_per_day": efc_per_day,
        "measured_capacities_wh": capacities,
        "soh_pct": soh_pct,
        "soh_source": source,
        "remaining_useful_life": {
            "eol_soh_pct": config.eol_soh_pct,
            "rated_cycles_to_eol": config.rated_cycles_to_eol,
            "remaining_cycles": remaining_efc,
            "days": rul_days,
            "years": None if rul_days is None else rul_days / 365.25,
            "assumptions": "linear fade per equivalent full cycle at this period's rate; "
            "calendar ageing not modelled",
        },
    }


def _measured_capacities_wh(
    min_swing_pct: float, quarters: Sequence[RollupPoint], soc: Sequence[HistoryPoint]
) -> list[float]:
    """One capacity per charging run whose SOC rose by ``min_swing_pct`` or more.

    A run's SOC rise is taken from the lowest SOC of its first quarter to the
    highest of its last (the edges of the run, not the quarter means)."""
    soc_at = {int(p.time_s): p for p in soc if p.min is not None and p.max is not None}
    runs: list[list[RollupPoint]] = []
    for q in quarters:
        if q.mean_w >= 0 or q.bucket_s not in soc_at:
            runs.append([])
        elif runs and runs[-1] and q.bucket_s - runs[-1][-1].bucket_s == 900:
            runs[-1].append(q)
        else:
            runs.append([q])
    found: list[float] = []
    for run in runs:
        if not run:
            continue
        low, high = soc_at[run[0].bucket_s].min, soc_at[run[-1].bucket_s].max
        if low is None or high is None:
            continue
        swing_pct = high - low
        net_wh = sum(r.energy_out_wh - r.energy_in_wh for r in run)
        if swing_pct >= min_swing_pct and net_wh > 0:
            found.append(net_wh / (swing_pct / 100.0))
    return found
