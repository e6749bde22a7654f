"""The deterministic control cycle.

Cycle ``k`` starts at the absolute deadline ``t0 + k * period`` (monotonic
time), so lateness never accumulates into drift. Each cycle: take one
snapshot, add the site totals, run the controllers in priority order (lowest
first, so the most important runs last and its write wins; a controller may
also narrow an output's range, which binds the others: :mod:`ems.edge.ranges`),
then apply the outputs and write the acks. Pending requests are taken off their channels at
the start of the cycle that answers them. A cycle that overruns its
period starts the next one at the next future deadline and is counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.dal import ACK_PREFIX, REQUEST_PREFIX, Category, ChannelStore, Sample, Snapshot, Value
from ems.edge.clocksync import ClockSync
from ems.edge.context import Ack, CycleContext, CycleWrites, clamp_into
from ems.edge.controller_state import ControllerStateFile
from ems.edge.controllers.base import Controller
from ems.edge.executions import Execution, ExecutionSink
from ems.edge.virtual_meter import VirtualMeter
from ems.profiles import DeviceProfile
from ems.timefmt import to_rfc3339

__all__ = ["CYCLE_CHANNELS", "CycleStats", "EdgeCycle"]

log = logging.getLogger(__name__)

CYCLE = "_cycle"
#: name -> unit of the cycle's own channels.
CYCLE_CHANNELS = {
    "Index": None,  # cycle number k since start
    "DurationMs": "ms",  # time from cycle start to outputs applied
    "JitterMs": "ms",  # start lateness against the absolute deadline
    "Overruns": None,  # cycles that ran past the next deadline, cumulative
    "SkippedCycles": None,  # deadlines skipped because of overruns, cumulative
    "ControllerErrors": None,  # controller runs that raised, cumulative
}


@dataclass(slots=True)
class CycleStats:
    cycles: int = 0
    overruns: int = 0
    skipped: int = 0
    controller_errors: int = 0
    last_duration_s: float = 0.0
    last_jitter_s: float = 0.0


class EdgeCycle:
    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        controllers: Sequence[Controller],
        devices: Mapping[str, DeviceProfile],
        period_s: float = 1.0,
        deadline_margin_s: float = 0.5,
        *,
        audit: AuditTrail | None = None,
        clock_sync: ClockSync | None = None,
        executions: ExecutionSink | None = None,
        state: ControllerStateFile | None = None,
    ) -> None:
        """``state``: where the controllers' durable state is saved when it changes."""
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self._store = store
        self._clock = clock
        # Stable: equal priorities keep their configured order.
        self.controllers = sorted(controllers, key=lambda c: c.priority)
        self._served = {id(c): tuple(c.request_channels()) for c in self.controllers}
        self._devices = devices
        self.period_s = period_s
        self._margin_s = deadline_margin_s
        self._audit = audit or AuditTrail("edge")
        self._sync = clock_sync or ClockSync()
        self._meter = VirtualMeter(devices)
        self._meter.declare(store)
        for name, unit in CYCLE_CHANNELS.items():
            store.declare(f"{CYCLE}/{name}", Category.INPUT, unit)
        # Every output channel gets a value every cycle: the last controller's
        # write, else the profile default, so a released setpoint never lingers.
        self._defaults: dict[str, Value] = {
            f"{device}/{ch.name}": ch.default
            for device, profile in devices.items()
            for ch in profile.channels_of(Category.OUTPUT)
        }
        self._output_addresses = frozenset(self._defaults)
        # Controllers' own status channels (``<controller id>/State``: what it does and why).
        self._status: dict[int, frozenset[str]] = {}
        for c in self.controllers:
            addresses = set()
            for name, unit in c.status_channels().items():
                store.declare(f"{c.id}/{name}", Category.INPUT, unit)
                addresses.add(f"{c.id}/{name}")
            self._status[id(c)] = frozenset(addresses)
        # Request channel -> (device, action): what an executed command was applied to.
        self._routes = {
            action.request_address(device): (device, action.name)
            for device, profile in devices.items()
            for action in profile.actions.values()
        }
        self._executions = executions
        self._state = state
        self.stats = CycleStats()

    # -- one cycle -------------------------------------------------------
    def run_once(self, index: int, jitter_s: float = 0.0) -> CycleWrites:
        """Run one cycle now; returns the writes it applied."""
        started = time.perf_counter()
        now_s = self._clock.time()
        snapshot = self._store.snapshot()
        sums = self._meter.compute(snapshot)
        if sums:
            # Controllers see the totals of this very snapshot.
            snapshot = snapshot.extended({a: Sample(v, snapshot.taken_at) for a, v in sums.items()})
        writes = CycleWrites()
        taken: dict[str, tuple[str, Mapping[str, Any]]] = {}  # command id -> (address, request)
        for controller in self.controllers:
            requests = self._take_requests(controller, snapshot, now_s)
            for address, request in requests.items():
                taken[str(request.get("command_id", ""))] = (address, request)
            ctx = CycleContext(
                snapshot,
                requests,
                now_s,
                index,
                self._devices,
                self._margin_s,
                self._output_addresses,
                self._sync,
                controller_id=controller.id,
                staged=writes,
                status_addresses=self._status[id(controller)],
            )
            try:
                controller.run(ctx)
            except Exception:
                self.stats.controller_errors += 1
                log.exception("controller %s raised in cycle %d; skipped", controller.id, index)
                ctx.take_writes()  # a failed controller's writes are dropped, not half-applied
                writes.acks.extend(_unanswered(requests, [], "controller_error", controller.id))
                continue
            own = ctx.take_writes()
            own.acks.extend(_unanswered(requests, own.acks, "not_handled", controller.id))
            writes.merge(own)
        if self._state is not None:
            # Before the acks: an "executed" hold is on disk when the cloud hears of it.
            self._state.save_if_changed(self.controllers)
        self._apply(writes, sums, now_s, taken)
        duration_s = time.perf_counter() - started
        self.stats.cycles += 1
        self.stats.last_duration_s = duration_s
        self.stats.last_jitter_s = jitter_s
        self._store.set_channels(
            {
                f"{CYCLE}/Index": index,
                f"{CYCLE}/DurationMs": duration_s * 1000.0,
                f"{CYCLE}/JitterMs": jitter_s * 1000.0,
                f"{CYCLE}/Overruns": self.stats.overruns,
                f"{CYCLE}/SkippedCycles": self.stats.skipped,
                f"{CYCLE}/ControllerErrors": self.stats.controller_errors,
            },
            ts=now_s,
        )
        return writes

    def _take_requests(
        self, controller: Controller, snapshot: Snapshot, now_s: float
    ) -> dict[str, Mapping[str, Any]]:
        """Take the controller's pending requests off their channels, atomically each.

        A request is taken only if its channel still holds it; one replaced since
        the snapshot was already superseded by the writer and is not this
        cycle's to answer. Once taken, a request can no longer be superseded, so
        every command gets exactly one final status.
        """
        taken: dict[str, Mapping[str, Any]] = {}
        for address in self._served[id(controller)]:
            sample = snapshot.get(address)
            if sample is None or sample.value is None or not isinstance(sample.value, Mapping):
                continue
            request = sample.value
            if self._store.compare_and_set(
                address,
                lambda s, r=request: s is not None and s.value is r,  # type: ignore[misc]
                None,
                ts=now_s,
            ):
                taken[address] = request
        return taken

    def _apply(
        self,
        writes: CycleWrites,
        sums: Mapping[str, Value],
        now_s: float,
        taken: Mapping[str, tuple[str, Mapping[str, Any]]],
    ) -> None:
        values = dict(self._defaults)
        for address, rng in writes.ranges.items():
            if address not in writes.outputs:  # nobody wrote it: its default, within the range
                values[address] = clamp_into(writes.clamps, address, values[address], rng)
        values.update(writes.outputs)
        values.update(sums)
        values.update(writes.status)
        self._store.set_channels(values, ts=now_s)
        # Acks after outputs: whoever sees "executed" finds the setpoint applied.
        at = to_rfc3339(now_s)
        for ack in writes.acks:
            if ack.status == "executed":
                # Logged before the ack is written: the ack is what reaches the cloud.
                self._log_execution(ack.command_id, taken.get(ack.command_id), now_s)
            self._store.set_channel(ack.address, ack.value(at), ts=now_s)
            self._audit.record(
                "controller." + ack.status,
                ack.command_id,
                now_s,
                status=ack.status,
                reason=ack.reason,
                detail=ack.detail,
                channel=ack.address,
            )

    def _log_execution(
        self, command_id: str, taken: tuple[str, Mapping[str, Any]] | None, now_s: float
    ) -> None:
        if self._executions is None:
            return
        if taken is None:  # a controller acked a command it was not given: log it anyway
            device, action, value = "", "", None
        else:
            address, request = taken
            device, action = self._routes.get(address, ("", str(request.get("action", ""))))
            value = request.get("value")
        try:
            self._executions(Execution(command_id, device, action, value, now_s))
        except Exception:
            log.exception("execution of command %s could not be logged", command_id)

    # -- the loop --------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, max_cycles: int | None = None) -> None:
        """Run cycles on absolute deadlines until ``stop`` is set or ``max_cycles`` ran."""
        t0 = self._clock.monotonic()
        k = 0
        ran = 0
        while (stop is None or not stop.is_set()) and (max_cycles is None or ran < max_cycles):
            deadline = t0 + k * self.period_s
            await self._clock.sleep_until(deadline)
            if stop is not None and stop.is_set():
                return
            jitter_s = self._clock.monotonic() - deadline
            self.run_once(k, jitter_s)
            ran += 1
            elapsed = self._clock.monotonic() - t0
            next_k = k + 1
            if elapsed > next_k * self.period_s:
                # Overran: resume at the next deadline still in the future.
                resume_k = math.floor(elapsed / self.period_s) + 1
                self.stats.overruns += 1
                self.stats.skipped += resume_k - next_k
                log.warning(
                    "cycle %d overran its %.3f s period; skipping %d deadline(s)",
                    k,
                    self.period_s,
                    resume_k - next_k,
                )
                next_k = resume_k
            k = next_k


def _unanswered(
    requests: Mapping[str, Mapping[str, Any]], acks: Sequence[Ack], reason: str, controller_id: str
) -> list[Ack]:
    """Failure acks for taken requests the controller left without a final status."""
    answered = {a.command_id for a in acks}
    out = []
    for address, request in requests.items():
        command_id = str(request.get("command_id", ""))
        if command_id not in answered:
            out.append(
                Ack(
                    ack_address_for(address),
                    command_id,
                    "failed",
                    reason,
                    f"controller {controller_id} gave no final status",
                )
            )
    return out


def ack_address_for(request_address: str) -> str:
    """``ui_requests/battery_1_power`` → ``ack/battery_1_power``."""
    return ACK_PREFIX + request_address[len(REQUEST_PREFIX) :]
