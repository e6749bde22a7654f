"""Parameters of the frequency-watt controller, with IEEE 1547-2018 defaults.

IEEE 1547-2018 Table 24 (frequency droop parameters, categories I-III):
over-frequency deadband db_OF = 0.036 Hz (adjustable 0.017-1.0 Hz), droop
k_OF = 5 % (adjustable 2-5 %; EN 50549-1 allows 2-12 %, so up to 12 % is
accepted for 50 Hz sites).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["FrequencyWattParams"]


class FrequencyWattParams(ControllerParams):
    device: str = Field(
        description="PV inverter (its SetActivePowerLimit is written) or battery (its "
        "SetActivePower)"
    )
    frequency_device: str | None = Field(
        default=None,
        description="Device whose Frequency is followed; default: the site's only grid meter",
    )
    nominal_hz: float = Field(default=50.0, description="Nominal grid frequency: 50 or 60 [Hz]")
    deadband_hz: float = Field(
        default=0.036,
        ge=0.017,
        le=1.0,
        description="No response until the frequency exceeds nominal by this [Hz]",
    )
    droop: float = Field(
        default=0.05,
        ge=0.02,
        le=0.12,
        description="Frequency rise, as a fraction of nominal, that takes the whole "
        "reference power away (0.05 = 5 %)",
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: nothing is curtailed [s]",
    )

    @field_validator("nominal_hz")
    @classmethod
    def _grid_frequency(cls, value: float) -> float:
        if value not in (50.0, 60.0):
            raise ValueError("must be 50 or 60")
        return value
