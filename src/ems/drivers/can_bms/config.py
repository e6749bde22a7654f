"""Parameters of a ``can_bms`` device: the bus, the DBC file and which signal is what."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ems.drivers.base import DriverConfig

__all__ = ["CanBmsConfig", "SignalNames"]

#: ``Message.Signal`` as the DBC spells both.
SIGNAL_REF = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"


class SignalNames(BaseModel):
    """Which DBC signal carries each quantity, as ``Message.Signal``.

    The defaults are the shipped ``generic_bms.dbc``; with a BMS's own DBC, name
    its signals here, and ``null`` for an optional one it does not send. The
    DBC's scaling and offset apply; the unit must be the one in the key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    soc_pct: str = Field(default="BMS_Status.SOC", pattern=SIGNAL_REF)
    voltage_v: str = Field(default="BMS_Pack.PackVoltage", pattern=SIGNAL_REF)
    charge_limit_a: str = Field(default="BMS_Limits.ChargeCurrentLimit", pattern=SIGNAL_REF)
    discharge_limit_a: str = Field(default="BMS_Limits.DischargeCurrentLimit", pattern=SIGNAL_REF)
    current_a: str | None = Field(default="BMS_Pack.PackCurrent", pattern=SIGNAL_REF)
    min_cell_temp_c: str | None = Field(default="BMS_Temperatures.MinCellTemp", pattern=SIGNAL_REF)
    max_cell_temp_c: str | None = Field(default="BMS_Temperatures.MaxCellTemp", pattern=SIGNAL_REF)


class CanBmsConfig(DriverConfig):
    """A BMS that broadcasts on a CAN bus. ``timeout_s`` is how long a poll of a
    silent bus waits for a frame before it counts as no answer."""

    interface: str = Field(
        default="socketcan", description="python-can interface: socketcan, pcan, virtual, …"
    )
    channel: str = Field(default="can0", description="Bus channel, e.g. can0")
    bitrate: int | None = Field(
        default=None, gt=0, description="[bit/s]; None keeps the interface's own setting"
    )
    dbc: str = Field(
        default="generic_bms",
        description="DBC file: a path (relative to the config folder) or a shipped name",
    )
    signals: SignalNames = SignalNames()
    silence_s: float = Field(
        default=3.0, gt=0, le=3600, description="No BMS frame for this long: the bus is silent [s]"
    )
    current_positive: Literal["discharging", "charging"] = Field(
        default="discharging", description="What a positive current signal means on this BMS"
    )
    capacity_wh: float | None = Field(
        default=None, gt=0, description="Usable capacity from the datasheet, published [Wh]"
    )
    active_power_from_dc: bool = Field(
        default=False,
        description="Publish ActivePower as pack voltage × current (DC side, no inverter losses)",
    )

    @field_validator("interface")
    @classmethod
    def _known_interface(cls, interface: str) -> str:
        # Refused at start, not at the first poll: a typo is no device that went away.
        import can  # here: an edge without a CAN device never loads python-can

        if interface not in can.interfaces.VALID_INTERFACES:
            known = ", ".join(sorted(can.interfaces.VALID_INTERFACES))
            raise ValueError(f"unknown python-can interface {interface!r} (known: {known})")
        return interface
