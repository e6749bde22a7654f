"""Battery dispatch: the perfect-foresight linear program (HiGHS) and reference rules."""

from ems.optimize.battery import BatteryModel
from ems.optimize.greedy import GreedyRun, greedy_self_consumption
from ems.optimize.lp import DispatchPlan, DispatchProblem, OptimizeError, solve_dispatch

__all__ = [
    "BatteryModel",
    "DispatchPlan",
    "DispatchProblem",
    "GreedyRun",
    "OptimizeError",
    "greedy_self_consumption",
    "solve_dispatch",
]
