"""Parameters of the demand-response controller (units in the names)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["DemandResponseParams"]


class DemandResponseParams(ControllerParams):
    vtn_url: str = Field(
        pattern=r"^https?://\S+$",
        description="The VTN's OpenADR 2.0b base URL, e.g. https://vtn.example/OpenADR2/Simple/2.0b",
    )
    ven_name: str = Field(min_length=1, max_length=100, description="This VEN's name at the VTN")
    ven_id: str | None = Field(default=None, description="VEN id, if the VTN assigned one")
    cert: str | None = Field(default=None, description="PEM certificate: signs messages, TLS")
    key: str | None = Field(default=None, description="PEM private key of cert")
    ca_file: str | None = Field(default=None, description="PEM CA bundle to check the VTN")
    vtn_fingerprint: str | None = Field(
        default=None, description="The VTN certificate's fingerprint: incoming messages checked"
    )
    battery: str | None = Field(
        default=None, description="Battery device id; default: the site's only battery"
    )
    grid: str | None = Field(
        default=None, description="Grid meter device id; default: the site's only grid meter"
    )
    simple_import_limits_w: tuple[float, float, float] = Field(
        default=(0.0, 0.0, 0.0),
        description="Import limit for SIMPLE levels 1 (moderate), 2 (high), 3 (special); "
        "ignored for level 0 [W]",
    )
    min_soc_pct: float = Field(
        default=5.0, ge=0, lt=100, description="Energy below this SOC is not offered [%]"
    )
    discharge_efficiency_pct: float = Field(
        default=95.0, gt=0, le=100, description="Share of stored energy reaching the AC side [%]"
    )
    energy_margin_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="An event is accepted only if the battery holds this much more than it "
        "needs [%]",
    )
    report_interval_s: float = Field(
        default=60.0, ge=1, le=3600, description="Shortest import telemetry report period [s]"
    )
    retry_s: float = Field(
        default=30.0, gt=0, le=3600, description="Wait before registering again [s]"
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: the controller stands aside [s]",
    )

    @model_validator(mode="after")
    def _limits_and_tls(self) -> Self:
        if any(not (w >= 0 and w < float("inf")) for w in self.simple_import_limits_w):
            raise ValueError("simple_import_limits_w: each limit must be a finite W >= 0")
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key: give both or neither")
        return self
