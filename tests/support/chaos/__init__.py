"""The chaos suite: real processes, real faults, and the checks that must hold afterwards.

:func:`run_chaos` runs two cloud processes, one edge (through a proxy that can
drop its connections), Redis and PostgreSQL, with dashboards sending commands
while a seeded fault schedule kills, freezes, restarts and disconnects them;
then it checks the command statuses, the edge's execution log and the stored
telemetry. ``tests/chaos/`` runs a short one; ``make chaos`` a long one.
"""

from support.chaos.harness import ChaosConfig, ChaosResult, run_chaos
from support.chaos.schedule import FAULT_KINDS, Fault, make_schedule

__all__ = ["FAULT_KINDS", "ChaosConfig", "ChaosResult", "Fault", "make_schedule", "run_chaos"]
