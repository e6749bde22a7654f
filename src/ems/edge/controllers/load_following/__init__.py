"""Load following: the battery holds the grid at a schedule (local times → W) or a CSV."""

from ems.edge.controllers.load_following.config import LoadFollowingParams, ScheduleStep
from ems.edge.controllers.load_following.controller import LoadFollowing

__all__ = ["LoadFollowing", "LoadFollowingParams", "ScheduleStep"]
