"""Write a profile's setpoint through the device's SunSpec control model.

See ``mapping`` for which model each profile's output goes to. Value registers
are written before their enable, so a device never enables a control on an
old value.
"""

from __future__ import annotations

import struct

from ems.drivers.sunspec.discovery import ModelRef, SunSpecMap
from ems.drivers.sunspec.errors import SunSpecError
from ems.drivers.sunspec.mapping import Profile
from ems.drivers.sunspec.models import ModelDef, model_def
from ems.drivers.sunspec.points import decode, encode, unscale
from ems.drivers.sunspec.reader import read_model, read_words
from ems.drivers.sunspec.transport import Registers

__all__ = ["write_setpoint"]

_ENABLED = 1
_DISABLED = 0
_STOR_CTL_BOTH = 0b11  # StorCtl_Mod: the charge and the discharge limit both apply
_WSET_MOD_WATTS = 1


def write_setpoint(
    regs: Registers, smap: SunSpecMap, profile: Profile, value_w: float | None
) -> None:
    """Battery: ``value_w`` > 0 discharge, < 0 charge. PV: a limit >= 0 W, or None to release."""
    if profile == "battery":
        power_w = 0.0 if value_w is None else value_w
        if (ref := smap.first(124)) is not None:
            _battery_124(_Writer(regs, ref), power_w)
        elif (ref := smap.first(704)) is not None:
            _battery_704(_Writer(regs, ref), power_w)
        else:
            raise SunSpecError("model_missing", "no storage control (124) nor DER controls (704)")
        return
    if value_w is not None and value_w < 0:
        raise SunSpecError("bad_setpoint", f"a power limit is >= 0 W, got {value_w}")
    if (ref := smap.first(123)) is not None:
        _pv_limit(_Writer(regs, ref), "WMaxLimPct", "WMaxLim_Ena", _rating_w(regs, smap), value_w)
    elif (ref := smap.first(704)) is not None:
        _pv_limit(_Writer(regs, ref), "WMaxLimPct", "WMaxLimPctEna", _rating_w(regs, smap), value_w)
    else:
        raise SunSpecError("model_missing", "no controls model (123) nor DER controls (704)")


def _battery_124(writer: _Writer, power_w: float) -> None:
    storage = read_model(writer.regs, writer.ref)
    w_cha_max = storage.get("WChaMax")
    if not isinstance(w_cha_max, int | float) or w_cha_max <= 0:
        raise SunSpecError("model_missing", "model 124 does not state WChaMax")
    pct = 100.0 * power_w / w_cha_max
    if abs(pct) > 100.0:
        raise SunSpecError(
            "bad_setpoint", f"{power_w} W is beyond the battery's WChaMax of {w_cha_max} W"
        )
    # A window pinned at the setpoint: discharge at most and at least pct (InWRte is
    # the charge bound, so discharging p % means charging -p %), and the reverse.
    writer.put("OutWRte", pct)
    writer.put("InWRte", -pct)
    writer.put("StorCtl_Mod", _STOR_CTL_BOTH, scaled=False)


def _battery_704(writer: _Writer, power_w: float) -> None:
    writer.put("WSetMod", _WSET_MOD_WATTS, scaled=False)
    writer.put("WSet", power_w)
    writer.put("WSetEna", _ENABLED, scaled=False)


def _rating_w(regs: Registers, smap: SunSpecMap) -> float | None:
    for model_id, name in ((702, "WMaxRtg"), (120, "WRtg"), (121, "WMax")):
        ref = smap.first(model_id)
        if ref is not None:
            value = read_model(regs, ref).get(name)
            if isinstance(value, int | float) and value > 0:
                return float(value)
    return None


def _pv_limit(
    writer: _Writer,
    pct_point: str,
    enable_point: str,
    rating_w: float | None,
    limit_w: float | None,
) -> None:
    if limit_w is None:
        writer.put(enable_point, _DISABLED, scaled=False)
        return
    if rating_w is None:
        raise SunSpecError("model_missing", "no power rating (702 WMaxRtg, 120 WRtg, 121 WMax)")
    writer.put(pct_point, min(100.0, 100.0 * limit_w / rating_w))
    writer.put(enable_point, _ENABLED, scaled=False)


class _Writer:
    """Encodes named points of one model on the device and writes them."""

    def __init__(self, regs: Registers, ref: ModelRef) -> None:
        self.regs = regs
        self.ref = ref
        self.defn: ModelDef = model_def(ref.model_id)

    def _sf(self, point_name: str) -> int:
        point = self.defn.points[point_name]
        if isinstance(point.sf, int):
            return point.sf
        sf_point = self.defn.sf_point(point)
        if sf_point is None:
            return 0
        raw = decode(sf_point, read_words(self.regs, self.ref.address + sf_point.offset_regs, 1))
        if not isinstance(raw, int):
            raise SunSpecError(
                "model_missing", f"model {self.ref.model_id} does not implement {sf_point.name}"
            )
        return raw

    def put(self, point_name: str, value: float, *, scaled: bool = True) -> None:
        point = self.defn.points[point_name]
        raw = unscale(value, self._sf(point_name)) if scaled and point.sf else round(value)
        try:
            words = encode(point, raw)
        except struct.error as exc:
            raise SunSpecError(
                "bad_setpoint", f"{point_name}={value} does not fit a {point.type}"
            ) from exc
        self.regs.write(self.ref.address + point.offset_regs, words)
