"""The controller interface and its registry.

Controllers are pure: they read the cycle's snapshot and write through the
cycle's context; no I/O, no sleeping, no clock reads of their own. They may keep
state between cycles (e.g. a held setpoint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from ems.edge.context import CycleContext
from ems.profiles import DeviceProfile
from ems.registry import Registry

__all__ = ["CONTROLLERS", "Controller", "ControllerParams", "register_controller"]


class ControllerParams(BaseModel):
    """Base of every controller's parameters; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Controller(ABC):
    """Subclasses set ``type_name`` and ``config_model`` and implement :meth:`run`."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[ControllerParams]] = ControllerParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: ControllerParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        self.id = controller_id
        self.priority = priority
        self.devices = devices

    def request_channels(self) -> Iterable[str]:
        """The ``ui_requests/…`` channels this controller serves (none by default).

        The cycle takes pending requests off these channels at its start and
        hands them to the controller in ``ctx.requests``.
        """
        return ()

    def status_channels(self) -> Mapping[str, str | None]:
        """This controller's own channels, name -> unit, declared as
        ``<controller id>/<name>`` (none by default); set with ``ctx.status``."""
        return {}

    def durable_state(self) -> Mapping[str, Any] | None:
        """JSON-able state that must survive an edge restart, or ``None`` (the default).

        The edge saves it whenever it changes, before the cycle's acks go out,
        and hands it back to :meth:`restore_state` at the next start.
        """
        return None

    def restore_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Take back what :meth:`durable_state` returned before a restart."""

    @abstractmethod
    def run(self, ctx: CycleContext) -> None:
        """Decide this cycle's outputs from ``ctx.snapshot``."""


CONTROLLERS: Registry[Controller] = Registry("controller", "ems.edge.controllers")

C = TypeVar("C", bound=type[Controller])


def register_controller(cls: C) -> C:
    """Class decorator: make a controller available to the edge config by ``type_name``."""
    CONTROLLERS.add(cls.type_name, cls)
    return cls
