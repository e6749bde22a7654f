"""What a node does with the replicated table when it takes control, and the hooks that
keep the table current while it is in control."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ems.edge.controller_state import durable_states, restore_states
from ems.edge.executions import Execution, ExecutionSink
from ems.edge.ha.replica import Replica
from ems.edge.ha.table import LeaseTable
from ems.edge.runtime import EdgeRuntime, build_controllers

__all__ = ["StatePublisher", "adopt_controller_state", "replicated_executions"]

log = logging.getLogger(__name__)


def adopt_controller_state(runtime: EdgeRuntime, table: LeaseTable) -> bool:
    """Run fresh controllers restored from the table's state; False if it has none yet.

    Fresh ones, not the follower's idle ones restored on top: a hold the old
    leader released must not survive in a controller that still carries it
    from this node's own start. Synchronous, on the event loop, so it falls
    between two cycles."""
    if table.state_token == 0:
        return False  # nobody published yet: this node's own file is the best there is
    controllers = build_controllers(
        runtime.config, runtime.devices, runtime.tariff, runtime.inline_work
    )
    restore_states(controllers, table.controller_state)
    runtime.cycle.replace_controllers(controllers, runtime.virtual_meters)
    runtime.requests.replace_controllers(controllers)
    replaced, runtime.controllers = runtime.controllers, controllers
    for controller in replaced:
        controller.close()
    if runtime.controller_state is not None:
        runtime.controller_state.save_states(durable_states(controllers))
    log.info("controller state taken over from fencing token %d", table.state_token)
    return True


class StatePublisher:
    """After each controlled cycle: replicate the controllers' state when it changed."""

    def __init__(self, runtime: EdgeRuntime, replica: Replica, token: Callable[[], int]) -> None:
        self._runtime = runtime
        self._replica = replica
        self._token = token
        self._published: dict[str, Any] | None = None
        self._published_token = 0
        self.publications = 0

    def __call__(self) -> None:
        states = durable_states(self._runtime.cycle.controllers)
        token = self._token()
        if states == self._published and token == self._published_token:
            return
        self._replica.publish_state(token, states)
        self._published, self._published_token = states, token
        self.publications += 1


def replicated_executions(
    sink: ExecutionSink, replica: Replica, token: Callable[[], int]
) -> ExecutionSink:
    """``sink`` that also records each execution in the table (at-most-once across nodes)."""

    def record(execution: Execution) -> None:
        sink(execution)
        replica.record_executed(token(), {execution.command_id: execution.applied_at})

    return record
