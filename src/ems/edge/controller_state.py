"""Controller state that survives an edge restart (the manual hold, its mode, and
parameters changed at runtime by ``set_controller``).

Controllers stay pure: they hand out their durable state as JSON-able data
(:meth:`Controller.durable_state`) and take it back at start
(:meth:`Controller.restore_state`); this module does the I/O. The cycle
saves after the controllers ran and before the acks are written, so a
command acked ``executed`` is already on disk: an edge restarted after it
resumes the held setpoint instead of dropping the battery to 0 W.

The file (``controllers.json`` in the edge's state directory) is replaced
atomically: written to a temporary file, fsynced, renamed over the old one,
and the directory fsynced, so a crash or power cut leaves the old state or
the new one, never a torn file. It is written only when some controller's
state changed (once per operator command, not per cycle), because an fsync
costs milliseconds to seconds on an SD card.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ems.edge.controller_settings import restore_settings
from ems.edge.controllers.base import Controller

__all__ = [
    "CONTROLLER_STATE_FILE",
    "ControllerStateFile",
    "durable_states",
    "restore_states",
]

log = logging.getLogger(__name__)

CONTROLLER_STATE_FILE = "controllers.json"
#: Key of a controller's runtime parameter changes inside its saved state.
SETTINGS_KEY = "settings"


class ControllerStateFile:
    """The durable state of an edge's controllers, keyed by controller id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: dict[str, Any] | None = None
        self.write_errors = 0

    def load(self) -> dict[str, Any]:
        """What was saved last; empty when there is no file or it cannot be read."""
        try:
            document = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Starting in auto mode beats not starting: say so loudly.
            log.error("controller state %s unreadable (%s); starting without it", self.path, exc)
            return {}
        if not isinstance(document, dict):
            log.error("controller state %s is not a JSON object; starting without it", self.path)
            return {}
        self._saved = document
        return document

    def restore(self, controllers: Sequence[Controller]) -> None:
        """Give each controller its saved state back (at start, before the first cycle)."""
        restore_states(controllers, self.load())

    def save_if_changed(self, controllers: Sequence[Controller]) -> None:
        """Write every controller's durable state when any of it changed since the last save."""
        self.save_states(durable_states(controllers))

    def save_states(self, states: Mapping[str, Any]) -> None:
        """Write ``states`` (as :func:`durable_states` builds them) unless already saved."""
        if states == (self._saved or {}):
            return
        try:
            self._write(states)
        except (OSError, TypeError, ValueError) as exc:  # a full disk must not stop the cycle
            self.write_errors += 1
            log.error("controller state could not be saved to %s: %s", self.path, exc)
            return
        self._saved = dict(states)

    def _write(self, states: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps(states, sort_keys=True, indent=1).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        # The rename itself is durable only once the directory is synced.
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def durable_states(controllers: Sequence[Controller]) -> dict[str, Any]:
    """Every controller's durable state (with its runtime parameters), by controller id."""
    states: dict[str, Any] = {}
    for controller in controllers:
        state = controller.durable_state()
        if controller.settings:
            state = {**(state or {}), SETTINGS_KEY: dict(controller.settings)}
        if state is not None:
            states[controller.id] = state
    return states


def restore_states(controllers: Sequence[Controller], saved: Mapping[str, Any]) -> None:
    """Give each controller its state from ``saved`` (as :func:`durable_states` built it)."""
    for controller in controllers:
        state = saved.get(controller.id)
        if isinstance(state, Mapping):
            settings = state.get(SETTINGS_KEY)
            if isinstance(settings, Mapping) and settings:
                problem = restore_settings(controller, settings)
                if problem is not None:
                    # The YAML may have changed since: it wins, and the operator is told.
                    log.error(
                        "saved parameters of %s ignored: %s (%s)",
                        controller.id,
                        problem.reason,
                        problem.detail,
                    )
                else:
                    log.info("controller %s resumed its parameters %s", controller.id, settings)
            controller.restore_state({k: v for k, v in state.items() if k != SETTINGS_KEY})
            log.info("controller %s resumed its saved state", controller.id)
