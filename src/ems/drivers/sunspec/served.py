"""A simulated device dressed as a SunSpec device: its channels in, its setpoints out.

``pv_inverter``: models 1, 103 (W, WH, PhVphA, A, St), 120 (WRtg) and 123
(WMaxLimPct, WMaxLim_Ena → SetActivePowerLimit).
``battery``: models 1, 103 (W, St), 120 (WHRtg, MaxChaRte, MaxDisChaRte: the
dynamic limits), 124 (ChaState, ChaSt, and the window InWRte/OutWRte in % of
WChaMax with StorCtl_Mod → SetActivePower).
The scale factors are fixed per point (e.g. W_SF 0: 1 W steps up to 32 kW).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from ems.dal import Value
from ems.drivers.sunspec.image import MapImage

__all__ = ["SERVED_PROFILES", "ServedBattery", "ServedDevice", "ServedPv"]

_ST_MPPT = 4  # SunSpec has no plain "running": MPPT is normal operation
_ST_FAULT = 7
_ST_STANDBY = 8
_ENABLED = 1
_CHARGE_BIT = 0b01
_DISCHARGE_BIT = 0b10

_COMMON = {"Mn": "ems", "Vr": "1"}
# Scale factors of the points served (point name -> power of ten).
_SF_103 = {"A_SF": -2, "V_SF": -1, "W_SF": 0, "Hz_SF": -2, "WH_SF": 0}


def _num(channels: Mapping[str, Value], name: str) -> float | None:
    v = channels.get(name)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class ServedDevice(ABC):
    """The map of one device; ``publish`` after each step, ``setpoints`` after each write."""

    model_ids: ClassVar[tuple[int, ...]]
    model_name: ClassVar[str]  # the common model's Md

    def __init__(self, device_id: str, rating_w: float) -> None:
        self.device_id = device_id
        self.rating_w = rating_w
        self.image = MapImage(self.model_ids)
        self._common(device_id)
        for name, sf in _SF_103.items():
            self.image.put_raw(103, name, sf)
        self.image.put_raw(120, "WRtg_SF", 0)
        self.image.put(120, "WRtg", rating_w)

    def _common(self, device_id: str) -> None:
        for name, text in {**_COMMON, "Md": self.model_name, "SN": device_id}.items():
            self.image.put_text(1, name, text)

    @abstractmethod
    def publish(self, channels: Mapping[str, Value]) -> None:
        """Put a step's input channels into the map."""

    @abstractmethod
    def setpoints(self) -> dict[str, Value]:
        """The output channels as the map's control registers now say."""


class ServedPv(ServedDevice):
    model_ids = (1, 103, 120, 123)
    model_name = "simulated pv_inverter"

    def __init__(self, device_id: str, rating_w: float) -> None:
        super().__init__(device_id, rating_w)
        self.image.put_raw(123, "WMaxLimPct_SF", -1)
        self.image.put(123, "WMaxLimPct", 100.0)
        self.image.put_raw(123, "WMaxLim_Ena", 0)

    def publish(self, channels: Mapping[str, Value]) -> None:
        power_w = _num(channels, "ActivePower")
        self.image.put(103, "W", power_w)
        self.image.put(103, "WH", _num(channels, "ActiveEnergy"))
        self.image.put(103, "PhVphA", _num(channels, "Voltage"))
        self.image.put(103, "A", _num(channels, "Current"))
        self.image.put_raw(103, "St", _ST_MPPT if power_w else _ST_STANDBY)

    def setpoints(self) -> dict[str, Value]:
        pct = self.image.get(123, "WMaxLimPct")
        if self.image.raw(123, "WMaxLim_Ena") != _ENABLED or not isinstance(pct, float):
            return {"SetActivePowerLimit": None}
        return {"SetActivePowerLimit": self.rating_w * pct / 100.0}


class ServedBattery(ServedDevice):
    model_ids = (1, 103, 120, 124)
    model_name = "simulated battery"

    def __init__(self, device_id: str, rating_w: float) -> None:
        super().__init__(device_id, rating_w)
        for name, sf in {"WHRtg_SF": 1, "MaxChaRte_SF": 0, "MaxDisChaRte_SF": 0}.items():
            self.image.put_raw(120, name, sf)
        for name, sf in {"WChaMax_SF": 0, "ChaState_SF": -1, "InOutWRte_SF": -2}.items():
            self.image.put_raw(124, name, sf)
        self.image.put_raw(124, "WChaDisChaGra_SF", 0)
        self.image.put(124, "WChaMax", rating_w)
        self.image.put_raw(124, "StorCtl_Mod", 0)
        self.image.put(124, "InWRte", 0.0)
        self.image.put(124, "OutWRte", 0.0)

    def publish(self, channels: Mapping[str, Value]) -> None:
        self.image.put(103, "W", _num(channels, "ActivePower"))
        self.image.put(120, "WHRtg", _num(channels, "Capacity"))
        self.image.put(120, "MaxChaRte", _num(channels, "MaxChargePower"))
        self.image.put(120, "MaxDisChaRte", _num(channels, "MaxDischargePower"))
        self.image.put(124, "ChaState", _num(channels, "Soc"))
        state = channels.get("State")
        self.image.put_raw(103, "St", _ST_FAULT if state == "fault" else _ST_MPPT)
        self.image.put_raw(124, "ChaSt", _CHA_ST.get(str(state)))

    def setpoints(self) -> dict[str, Value]:
        mode = self.image.raw(124, "StorCtl_Mod")
        mode = mode if isinstance(mode, int) else 0
        if mode & _DISCHARGE_BIT:
            pct = self.image.get(124, "OutWRte")
            sign = 1.0
        elif mode & _CHARGE_BIT:
            pct = self.image.get(124, "InWRte")
            sign = -1.0
        else:
            return {"SetActivePower": None}
        if not isinstance(pct, float):
            return {"SetActivePower": None}
        return {"SetActivePower": sign * self.rating_w * pct / 100.0}


# The profile's State onto 124's ChaSt.
_CHA_ST = {"idle": 6, "empty": 2, "discharging": 3, "charging": 4, "full": 5, "fault": 1}

SERVED_PROFILES: dict[str, type[ServedDevice]] = {
    "pv_inverter": ServedPv,
    "battery": ServedBattery,
}
