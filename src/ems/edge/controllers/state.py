"""A controller's ``<controller id>/State`` channel, and a log line when it changes.

The state is a stable lower_snake code (``charging``, ``stale_inputs``, …); a
change is logged at INFO, or WARNING when inputs are missing or stale.
"""

from __future__ import annotations

import logging

from ems.edge.context import CycleContext

__all__ = ["StateReporter"]


class StateReporter:
    """Writes ``<controller id>/State`` every cycle and logs each change of it on ``log``."""

    def __init__(self, controller_id: str, log: logging.Logger) -> None:
        self._id = controller_id
        self._log = log
        self.state = "starting"

    def report(self, ctx: CycleContext, state: str, detail: str = "") -> None:
        if state != self.state:
            level = logging.WARNING if state.endswith("_inputs") else logging.INFO
            self._log.log(level, "%s: %s%s", self._id, state, f" ({detail})" if detail else "")
        self.state = state
        ctx.status("State", state)
