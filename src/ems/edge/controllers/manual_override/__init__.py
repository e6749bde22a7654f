"""Manual override: the operator's commands, revalidated, executed and held."""

from ems.edge.controllers.manual_override.config import ManualOverrideParams
from ems.edge.controllers.manual_override.controller import ManualOverride

__all__ = ["ManualOverride", "ManualOverrideParams"]
