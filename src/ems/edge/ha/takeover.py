"""What a node does with the replicated table when it takes control, and the hooks that
keep the table current while it is in control."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ems.edge.controller_state import durable_states, restore_states
from ems.edge.executions import Execution, ExecutionSink
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import Replica
from ems.edge.ha.table import LeaseTable
from ems.edge.link.seen import SeenCommands
from ems.edge.requests import CommandRequest, Verdict
from ems.edge.runtime import EdgeRuntime, build_controllers
from ems.protocol import reasons

__all__ = [
    "NOT_LEADER",
    "NOT_REPLICATED",
    "Admission",
    "StatePublisher",
    "adopt_command_record",
    "adopt_controller_state",
    "replicated_executions",
]

#: Reason codes of a command this node will not take (DESIGN 4's reasons, extended).
NOT_LEADER = reasons.NOT_LEADER
NOT_REPLICATED = reasons.HA_NOT_REPLICATED
#: The longest a command waits on the quorum before its request is written [s].
ADMIT_TIMEOUT_S = 0.5

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
    """After each controlled cycle: replicate the controllers' state when it changed.

    Not while a command waits for its device to confirm the write: a state holding
    a command with no final status yet would let the next leader carry out a
    command the cloud may report failed. The state goes out with the cycle that
    settles it (a few hundred ms later), before or with its ``executed`` ack.
    """

    def __init__(self, runtime: EdgeRuntime, replica: Replica, token: Callable[[], int]) -> None:
        self._runtime = runtime
        self._replica = replica
        self._token = token
        self._published: dict[str, Any] | None = None
        self._published_token = 0
        self.publications = 0

    def __call__(self) -> None:
        if self._runtime.cycle.awaiting_writes:
            return
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


class Admission:
    """:attr:`RequestWriter.admit` of an HA node: a command goes in only while this node
    controls, and only once a quorum knows this node took it.

    Blocking, on the event loop, once per operator command (as the local record's
    fsync is): a new leader then never executes a command the old one took."""

    def __init__(
        self, replica: Replica, lease: LocalLease, clock_time: Callable[[], float]
    ) -> None:
        self._replica = replica
        self._lease = lease
        self._time = clock_time
        self.refused = 0

    def __call__(self, command: CommandRequest) -> Verdict | None:
        if not self._lease.may_control():
            self.refused += 1
            return Verdict("failed", NOT_LEADER, "this edge is not in control of the site")
        if not self._replica.record_taken(
            self._lease.token, command.command_id, self._time(), ADMIT_TIMEOUT_S
        ):
            self.refused += 1
            return Verdict(
                "failed",
                NOT_REPLICATED,
                f"the HA quorum did not confirm taking the command within {ADMIT_TIMEOUT_S} s",
            )
        return None


def adopt_command_record(seen: SeenCommands, table: LeaseTable) -> None:
    """This node's record of commands learns what the pair took and executed: a
    redelivery of any of them is answered from the record, never executed here."""
    executed = dict(table.executed)  # copies: the table is applied on another thread
    seen.restore_executed(executed.items())
    for command_id in dict(table.taken):
        if command_id not in executed:
            seen.record_taken(command_id)
