"""``ems devices scan``: what SunSpec models a device has, as a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from ems.drivers.sunspec.discovery import discover
from ems.drivers.sunspec.mapping import profile_of
from ems.drivers.sunspec.reader import read_model
from ems.drivers.sunspec.transport import Registers

__all__ = ["scan"]


def scan(regs: Registers) -> dict[str, Any]:
    """Base address, the profile it would fill, the common model's identity, and each model.

    Raises ``SunSpecError`` (its ``reason`` is stable) when the device has no
    readable SunSpec map.
    """
    smap = discover(regs)
    common_ref = smap.first(1)
    common = read_model(regs, common_ref) if common_ref is not None else {}
    return {
        "base": smap.base,
        "manufacturer": common.get("Mn"),
        "model": common.get("Md"),
        "serial": common.get("SN"),
        "version": common.get("Vr"),
        "profile": profile_of(smap),
        "models": [
            {"id": ref.model_id, "name": ref.name, "address": ref.address, "length": ref.length}
            for ref in smap.models
        ],
    }
