"""The optimiser: an LP over the horizon (HiGHS), re-solved each step, followed as a grid target."""

from ems.edge.controllers.optimizer.config import OptimizerParams
from ems.edge.controllers.optimizer.controller import Optimizer

__all__ = ["Optimizer", "OptimizerParams"]
