"""An edge carries only what it uses: the registries import every controller and driver,
so a heavy library imported at module level would weigh on every edge (DESIGN 11:
RSS ≤ 80 MB). Checked in a fresh interpreter, since this one has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

#: Libraries only some sites use (or only the cloud does), each tens of MB when loaded.
HEAVY = (
    "openleadr",
    "aiohttp",
    "lightgbm",
    "sklearn",
    "matplotlib",
    "reportlab",
    "cantools",
    "asyncpg",
    "scipy",
    "highspy",
)

PROGRAM = f"""
import json, sys
import ems.cli
ems.cli.build_parser()  # every subcommand's arguments, as `ems edge` builds them
from ems.clock import VirtualClock
from ems.edge.config import load_edge_config
from ems.edge.controllers.base import CONTROLLERS
from ems.drivers.base import DRIVERS
from ems.edge.runtime import EdgeRuntime
CONTROLLERS.names(); DRIVERS.names()  # every controller and driver module imported
runtime = EdgeRuntime(load_edge_config(None), VirtualClock(1.78e9))
runtime.cycle.run_once(0)
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""


def test_building_and_running_the_demo_edge_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
