"""What controllers that hold the grid at a target share (self_consumption, load_following).

Not a controller itself: the battery setpoint that holds the grid at a target
given each cycle, with its deadband, no-flicker latch, SOC bounds and live
limits (:class:`GridFollower`), and the parameters that tune it.
"""

from ems.edge.controllers.grid_target.follower import Decision, GridFollower
from ems.edge.controllers.grid_target.params import GridTargetParams

__all__ = ["Decision", "GridFollower", "GridTargetParams"]
