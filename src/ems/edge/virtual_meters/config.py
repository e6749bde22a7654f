"""One ``virtual_meters:`` entry of the edge YAML: a linear combination of other channels.

``value = factor * (sum(sum) - sum(minus)) + offset``, published as ``<id>/Value``.
That one shape covers a total (``sum`` only), a difference (``sum`` and
``minus``), and a scaled or shifted channel (one input, ``factor``/``offset``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ems.dal.address import check_device_id
from ems.errors import EmsError

__all__ = ["VALUE_CHANNEL", "VirtualMeterConfig"]

#: The one channel a virtual meter publishes: ``<id>/Value``.
VALUE_CHANNEL = "Value"


class VirtualMeterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="lower_snake like a device id; the value is <id>/Value")
    unit: str | None = Field(
        default=None,
        description="Unit of the value; default the inputs' unit. Must equal it unless a "
        "factor other than 1 converts it (W -> kW)",
    )
    sum: list[str] = Field(default_factory=list, description="Channels added")
    minus: list[str] = Field(default_factory=list, description="Channels subtracted")
    factor: float = Field(default=1.0, allow_inf_nan=False, description="Applied to the total")
    offset: float = Field(
        default=0.0, allow_inf_nan=False, description="Added after the factor [the meter's unit]"
    )

    @field_validator("id")
    @classmethod
    def _meter_id(cls, value: str) -> str:
        try:
            check_device_id(value)
        except EmsError as exc:
            raise ValueError(str(exc)) from None
        if value.startswith("_"):
            # Underscore-led ids are the edge's own computed channels (_sum, _cycle, _link).
            raise ValueError(f"{value!r}: ids starting with '_' are reserved for the edge")
        return value

    @model_validator(mode="after")
    def _has_inputs(self) -> VirtualMeterConfig:
        if not self.sum and not self.minus:
            raise ValueError("give at least one channel in sum or minus")
        return self
