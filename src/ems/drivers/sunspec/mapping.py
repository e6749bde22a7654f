"""SunSpec models onto the project's profiles: what ``read_values`` and ``write_setpoint`` do.

``pv_inverter``: ActivePower (W), ActiveEnergy (Wh), Voltage (V, phase A to
neutral), Current (A) from an inverter model (103, 102, 101, 113, 112, 111) or,
without one, from DER AC measurement (701).

``battery``: ActivePower (W, > 0 discharging: SunSpec's W is positive when the
device exports), Soc (%) and Capacity (Wh) from storage (124 with nameplate
120) or DER storage capacity (713), MaxChargePower and MaxDischargePower (W)
from DER capacity (702), the nameplate (120) or 124's WChaMax, State from
124's ChaSt (or ``fault`` when the inverter's St says FAULT).

Setpoints: a battery's SetActivePower goes to 124 as a power window pinned at
the setpoint (InWRte and OutWRte in % of WChaMax, StorCtl_Mod both limits on),
or to DER AC controls (704) as WSet in watts. A pv inverter's
SetActivePowerLimit goes to 123's WMaxLimPct (% of WRtg from 120) or 704's
WMaxLimPct; ``None`` releases the limit.
"""

from __future__ import annotations

from typing import Literal

from ems.drivers.sunspec.discovery import ModelRef, SunSpecMap
from ems.drivers.sunspec.errors import SunSpecError
from ems.drivers.sunspec.models import model_def
from ems.drivers.sunspec.reader import ModelValues, read_model
from ems.drivers.sunspec.transport import Registers

__all__ = ["INVERTER_MODELS", "ChannelValue", "Profile", "profile_of", "read_values"]

Profile = Literal["pv_inverter", "battery"]
ChannelValue = float | str | None

# Three phase first: it carries everything the single phase models do.
INVERTER_MODELS = (103, 102, 101, 113, 112, 111)
_STORAGE_MODELS = (124, 713)

_ST_FAULT = 7  # inverter models' operating state St
_CHA_ST = {
    "OFF": "idle",
    "EMPTY": "empty",
    "DISCHARGING": "discharging",
    "CHARGING": "charging",
    "FULL": "full",
    "HOLDING": "idle",
    "TESTING": "idle",
}


def profile_of(smap: SunSpecMap) -> Profile | None:
    """The profile a discovered device fills: storage wins, as a hybrid inverter is a battery."""
    if smap.first(*_STORAGE_MODELS) is not None:
        return "battery"
    if smap.first(*INVERTER_MODELS, 701) is not None:
        return "pv_inverter"
    return None


def _values(regs: Registers, ref: ModelRef | None) -> ModelValues:
    return read_model(regs, ref) if ref is not None else {}


def _num(values: ModelValues, name: str) -> float | None:
    v = values.get(name)
    return float(v) if isinstance(v, int | float) else None


def _first(*candidates: float | None) -> float | None:
    return next((c for c in candidates if c is not None), None)


def read_values(regs: Registers, smap: SunSpecMap, profile: Profile) -> dict[str, ChannelValue]:
    """The profile's input channels now; a channel the device does not implement is None."""
    if profile == "pv_inverter":
        return _read_pv(regs, smap)
    return _read_battery(regs, smap)


def _ac(regs: Registers, smap: SunSpecMap) -> tuple[ModelValues, ModelValues]:
    inverter = _values(regs, smap.first(*INVERTER_MODELS))
    der = _values(regs, smap.first(701)) if not inverter else {}
    if not inverter and not der:
        raise SunSpecError("model_missing", "no inverter model (101-103, 111-113) nor DER 701")
    return inverter, der


def _read_pv(regs: Registers, smap: SunSpecMap) -> dict[str, ChannelValue]:
    inv, der = _ac(regs, smap)
    power_w = _first(_num(inv, "W"), _num(der, "W"))
    return {
        # An inverter draws a few watts at night; that is not negative production.
        "ActivePower": None if power_w is None else max(0.0, power_w),
        "ActiveEnergy": _first(_num(inv, "WH"), _num(der, "TotWhInj")),
        "Voltage": _first(_num(inv, "PhVphA"), _num(der, "LNV"), _num(der, "VL1")),
        "Current": _first(_num(inv, "A"), _num(der, "A")),
    }


def _read_battery(regs: Registers, smap: SunSpecMap) -> dict[str, ChannelValue]:
    inv, der = _ac(regs, smap)
    storage = _values(regs, smap.first(124))
    der_storage = _values(regs, smap.first(713))
    nameplate = _values(regs, smap.first(120))
    capacity = _values(regs, smap.first(702))
    cha_st = storage.get("ChaSt")
    cha_st_name = (
        model_def(124).points["ChaSt"].symbols.get(cha_st) if isinstance(cha_st, int) else None
    )
    # The dynamic limits: 702's settings (what the device is set to now), then its
    # ratings, then the nameplate; 124's WChaMax is the reference its percentages
    # are taken of, so it comes last.
    max_charge_w = _first(
        _num(capacity, "WChaRteMax"),
        _num(capacity, "WChaRteMaxRtg"),
        _num(nameplate, "MaxChaRte"),
        _num(storage, "WChaMax"),
    )
    return {
        "ActivePower": _first(_num(inv, "W"), _num(der, "W")),
        "Soc": _first(_num(storage, "ChaState"), _num(der_storage, "SoC")),
        "Capacity": _first(_num(nameplate, "WHRtg"), _num(der_storage, "WHRtg")),
        "MaxChargePower": max_charge_w,
        "MaxDischargePower": _first(
            _num(capacity, "WDisChaRteMax"),
            _num(capacity, "WDisChaRteMaxRtg"),
            _num(nameplate, "MaxDisChaRte"),
            # 124 takes OutWRte as a percentage of WChaMax as well.
            _num(storage, "WChaMax"),
        ),
        "State": "fault" if inv.get("St") == _ST_FAULT else _CHA_ST.get(cha_st_name or ""),
    }
