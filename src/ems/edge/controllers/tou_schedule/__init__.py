"""Time-of-use schedule: local-time windows to charge, discharge or idle the battery."""

from ems.edge.controllers.tou_schedule.config import TouScheduleParams, TouWindowParams
from ems.edge.controllers.tou_schedule.controller import TouSchedule

__all__ = ["TouSchedule", "TouScheduleParams", "TouWindowParams"]
