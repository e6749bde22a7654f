"""Site totals (``_sum/*``) computed from a snapshot, so controllers see one consistent set."""

from __future__ import annotations

from collections.abc import Mapping

from ems.dal import Category, ChannelStore, Snapshot, Value
from ems.profiles import DeviceProfile

__all__ = ["SUM_CHANNELS", "SiteTotals"]

SUM = "_sum"
#: name -> unit of every computed channel.
SUM_CHANNELS = {
    "GridActivePower": "W",  # > 0 import
    "ProductionActivePower": "W",  # PV, >= 0
    "EssActivePower": "W",  # > 0 discharging
    "EssSoc": "%",  # capacity-weighted mean over batteries
    "ConsumptionActivePower": "W",  # grid + production + ess: everything the site consumes
}

# Which profile types feed which sums.
_ESS, _PV, _GRID = "battery", "pv_inverter", "grid_meter"


class SiteTotals:
    def __init__(self, devices: Mapping[str, DeviceProfile]) -> None:
        self._ess = [d for d, p in devices.items() if p.type == _ESS]
        self._pv = [d for d, p in devices.items() if p.type == _PV]
        self._grid = [d for d, p in devices.items() if p.type == _GRID]

    def declare(self, store: ChannelStore) -> None:
        for name, unit in SUM_CHANNELS.items():
            store.declare(f"{SUM}/{name}", Category.INPUT, unit)

    def compute(self, snapshot: Snapshot) -> dict[str, Value]:
        """Totals over devices with a value; a total with no inputs at all is omitted."""
        out: dict[str, Value] = {}
        grid = _total(snapshot, self._grid, "ActivePower")
        pv = _total(snapshot, self._pv, "ActivePower")
        ess = _total(snapshot, self._ess, "ActivePower")
        for name, total in (
            ("GridActivePower", grid),
            ("ProductionActivePower", pv),
            ("EssActivePower", ess),
        ):
            if total is not None:
                out[f"{SUM}/{name}"] = total
        if grid is not None:
            out[f"{SUM}/ConsumptionActivePower"] = grid + (pv or 0.0) + (ess or 0.0)
        soc = _weighted_soc(snapshot, self._ess)
        if soc is not None:
            out[f"{SUM}/EssSoc"] = soc
        return out


def _total(snapshot: Snapshot, devices: list[str], channel: str) -> float | None:
    values = [snapshot.number(f"{d}/{channel}") for d in devices]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _soc(snapshot: Snapshot, device: str) -> float | None:
    """The battery's estimated SOC while the estimate keeps up with the BMS's (DESIGN 17:
    an ``estimator:`` publishes it with the samples it used), else the BMS's ``Soc``."""
    estimate = snapshot.get(f"{device}/SocEstimate")
    bms = snapshot.get(f"{device}/Soc")
    value = snapshot.number(f"{device}/SocEstimate")
    if estimate is not None and value is not None and (bms is None or estimate.ts >= bms.ts):
        return value
    return snapshot.number(f"{device}/Soc")


def _weighted_soc(snapshot: Snapshot, devices: list[str]) -> float | None:
    energy = capacity = 0.0
    for d in devices:
        soc, cap = _soc(snapshot, d), snapshot.number(f"{d}/Capacity")
        if soc is not None and cap:
            energy += soc * cap
            capacity += cap
    return energy / capacity if capacity else None
