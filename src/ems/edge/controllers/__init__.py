"""Controllers, one sub-package each, registered by type name."""

from ems.edge.controllers.base import (
    CONTROLLERS,
    Controller,
    ControllerParams,
    ControllerSite,
    register_controller,
)

__all__ = ["CONTROLLERS", "Controller", "ControllerParams", "ControllerSite", "register_controller"]
