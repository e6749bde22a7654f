"""``python -m ems.devices.pv_inverter.solar_child``: one PV day profile, JSON in, JSON out.

Reads ``{"config": {...}, "site": {...}, "day": N}`` on stdin and prints the
day's per-minute available AC power [W] as a JSON list (see
:func:`ems.devices.pv_inverter.solar.day_available_power_w_in_child`).
"""

from __future__ import annotations

import json
import sys

from ems.devices.base import SiteContext
from ems.devices.pv_inverter.config import PvInverterConfig
from ems.devices.pv_inverter.solar import day_available_power_w


def main() -> None:
    request = json.load(sys.stdin)
    config = PvInverterConfig.model_validate(request["config"])
    site = SiteContext(**{**request["site"], "isolate_models": False})
    json.dump(day_available_power_w(config, site, int(request["day"])), sys.stdout)


if __name__ == "__main__":
    main()
