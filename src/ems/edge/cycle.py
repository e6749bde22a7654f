"""The deterministic control cycle.

Cycle ``k`` starts at the absolute deadline ``t0 + k * period`` (monotonic
time), so lateness never accumulates into drift. Each cycle: take one
snapshot, add the site totals and the YAML's virtual meters
(:mod:`ems.edge.virtual_meters`), run the controllers in priority order (lowest
first, so the most important runs last and its write wins; a controller may
also narrow an output's range, which binds the others: :mod:`ems.edge.ranges`),
then apply the outputs and write the acks. Pending requests are taken off their channels at
the start of the cycle that answers them. A cycle that overruns its
period starts the next one at the next future deadline and is counted.

Outputs of real devices (drivers) are also handed to a
:class:`~ems.edge.device_writes.DeviceWriter`, which writes them off the
cycle's thread. A command applied to such a device is answered ``executed``
(and logged as an execution) only in a later cycle, once the device confirmed
the write; ``failed`` with the writer's reason (``device_timeout``,
``device_write_failed``) otherwise, or with ``device_timeout`` when no verdict
came before the command's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.dal import ACK_PREFIX, REQUEST_PREFIX, Category, ChannelStore, Sample, Snapshot, Value
from ems.edge.clocksync import ClockSync
from ems.edge.context import Ack, CycleContext, CycleWrites, clamp_into
from ems.edge.controller_settings import (
    apply_request,
    controller_ref,
    settings_ack_address,
    settings_request_address,
    status_name,
)
from ems.edge.controller_state import ControllerStateFile
from ems.edge.controllers.base import Controller
from ems.edge.device_writes import DeviceWriter
from ems.edge.executions import Execution, ExecutionSink
from ems.edge.ha.gate import ControlGate
from ems.edge.site_totals import SiteTotals
from ems.edge.virtual_meters import VirtualMeters
from ems.profiles import DeviceProfile
from ems.protocol import SET_CONTROLLER, reasons
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["CYCLE_CHANNELS", "CycleStats", "EdgeCycle", "Estimators"]

log = logging.getLogger(__name__)


class Estimators(Protocol):
    """Channels estimated from a snapshot (:class:`ems.estimation.stage.SocEstimators`)."""

    def compute(self, snapshot: Snapshot) -> Mapping[str, Sample]: ...


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


@dataclass(frozen=True, slots=True)
class _AwaitingWrite:
    """An ``executed`` ack held back until its device confirms the write."""

    ack: Ack
    taken: tuple[str, Mapping[str, Any]] | None
    deadline_s: float | None  # the cloud's deadline [UTC epoch s], if the command had one


@dataclass(slots=True)
class CycleStats:
    cycles: int = 0
    overruns: int = 0
    skipped: int = 0
    controller_errors: int = 0
    device_write_failures: int = 0  # commands failed because their device write failed
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
        device_writer: DeviceWriter | None = None,
        virtual_meters: VirtualMeters | None = None,
        estimators: Estimators | None = None,
        gate: ControlGate | None = None,
    ) -> None:
        """``state``: where the controllers' durable state is saved when it changes.
        ``gate``: an HA edge's lease; while it is closed the cycle only follows (no
        controllers, no outputs, no device writes). None: always in control.
        ``device_writer``: where the outputs of driver devices go (see the module doc).
        ``virtual_meters``: computed after the site totals, before the controllers.
        ``estimators``: the batteries' SOC estimators (:mod:`ems.estimation.stage`), run
        first, so the controllers of the same cycle read their ``SocEstimate``."""
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self._store = store
        self._clock = clock
        self.period_s = period_s
        self._margin_s = deadline_margin_s
        self._audit = audit or AuditTrail("edge")
        self._sync = clock_sync or ClockSync()
        self._virtual = virtual_meters or VirtualMeters(())
        self._virtual.declare(store)
        self._estimators = estimators
        for name, unit in CYCLE_CHANNELS.items():
            store.declare(f"{CYCLE}/{name}", Category.INPUT, unit)
        self._install_devices(devices, device_writer)
        self._install_controllers(controllers)
        self._executions = executions
        self._state = state
        self._awaiting: dict[str, _AwaitingWrite] = {}  # command id -> its held ack
        self._gate = gate
        # An HA edge that just took control runs its first cycle at once (run_now),
        # not at the next deadline: the devices' control gap is then the takeover only.
        self._kick: asyncio.Event | None = asyncio.Event() if gate is not None else None
        #: Called after each controlled cycle (HA: replicate the controllers' state).
        self.after_cycle: list[Callable[[], None]] = []
        self.stats = CycleStats()
        #: What the last cycle saw (its snapshot with the site totals and virtual meters)
        #: and what it wrote: one consistent row of the site, whatever the devices' own
        #: threads published since (``ems edge --standalone --out`` records it).
        self.last_view: Snapshot | None = None

    def _install_devices(
        self, devices: Mapping[str, DeviceProfile], device_writer: DeviceWriter | None
    ) -> None:
        self._devices = devices
        self._meter = SiteTotals(devices)
        self._meter.declare(self._store)
        # Every output channel gets a value every cycle: the last controller's
        # write, else the profile default, so a released setpoint never lingers.
        self._defaults: dict[str, Value] = {
            f"{device}/{ch.name}": ch.default
            for device, profile in devices.items()
            for ch in profile.channels_of(Category.OUTPUT)
        }
        self._output_addresses = frozenset(self._defaults)
        self._writer = device_writer
        self._driven = frozenset() if device_writer is None else device_writer.devices()

    def replace_devices(
        self,
        devices: Mapping[str, DeviceProfile],
        device_writer: DeviceWriter | None,
        controllers: Sequence[Controller],
        virtual_meters: VirtualMeters,
    ) -> None:
        """Run with ``devices`` (and their controllers) from the next cycle on: a pushed
        config that changed the devices. Between two cycles, as :meth:`replace_controllers`.

        A command waiting on a write to a device that was replaced gets the old
        device's verdict if its runner wrote before it stopped; else its deadline
        fails it (``device_timeout``), as for a device that stopped answering.
        """
        self._install_devices(devices, device_writer)
        self.replace_controllers(controllers, virtual_meters)

    def _install_controllers(self, controllers: Sequence[Controller]) -> None:
        """Take ``controllers`` as this cycle's: their status, request and settings channels."""
        # Stable: equal priorities keep their configured order.
        self.controllers = sorted(controllers, key=lambda c: c.priority)
        self._served = {id(c): tuple(c.request_channels()) for c in self.controllers}
        store = self._store
        # Request channel -> (device, action): what an executed command was applied to.
        self._routes = {
            action.request_address(device): (device, action.name)
            for device, profile in self._devices.items()
            for action in profile.actions.values()
        }
        # Controllers' own status channels (``<controller id>/State``: what it does and why).
        self._status: dict[int, frozenset[str]] = {}
        for c in self.controllers:
            addresses = set()
            for name, unit in c.status_channels().items():
                store.declare(f"{c.id}/{name}", Category.INPUT, unit)
                addresses.add(f"{c.id}/{name}")
            self._status[id(c)] = frozenset(addresses)
        # set_controller: request channel -> controller, and the parameters it shows.
        self._settable = {
            settings_request_address(c.id): c for c in self.controllers if c.settable_params
        }
        for address, c in self._settable.items():
            store.declare(address, Category.REQUEST)
            store.declare(settings_ack_address(c.id), Category.ACK)
            self._routes[address] = (c.id, SET_CONTROLLER)
            for name, spec in zip(c.settable_params, _units(c), strict=True):
                store.declare(f"{c.id}/{status_name(name)}", Category.INPUT, spec)

    @property
    def awaiting_writes(self) -> int:
        """Commands applied but not yet confirmed by their device (no final status yet)."""
        return len(self._awaiting)

    def replace_estimators(self, estimators: Estimators | None) -> None:
        """Run ``estimators`` from the next cycle on (a pushed config that changed a
        battery's ``estimator:``); between two cycles, as :meth:`replace_controllers`."""
        self._estimators = estimators

    def replace_controllers(
        self, controllers: Sequence[Controller], virtual_meters: VirtualMeters
    ) -> None:
        """Run ``controllers`` and ``virtual_meters`` from the next cycle on (a pushed
        config, :mod:`ems.edge.configsync`).

        Called on the event loop, which runs :meth:`run_once` too, so the swap falls between
        two cycles: no cycle ever sees half of the old set and half of the new one.
        """
        virtual_meters.declare(self._store)
        self._virtual = virtual_meters
        self._install_controllers(controllers)

    # -- one cycle -------------------------------------------------------
    def publish_computed(self) -> None:
        """Recompute the site totals (``_sum/*``) and virtual meters from the store as it
        is now and store them.

        ``ems simulate`` calls it after the devices took up the cycle's setpoints, so a
        CSV row's computed channels describe the same power flows as its device columns.
        """
        snapshot = self._store.snapshot()
        _, sums, virtual = self._computed(snapshot)
        if sums:
            self._store.set_channels(dict(sums), ts=snapshot.taken_at)
        self._store_virtual(virtual)

    def _computed(
        self, snapshot: Snapshot
    ) -> tuple[Snapshot, Mapping[str, Value], Mapping[str, Sample]]:
        """``snapshot`` extended with the site totals and the virtual meters, and each.

        The SOC estimates ride with the virtual meters (stored with their own timestamps).
        """
        estimates: Mapping[str, Sample] = {}
        if self._estimators is not None:
            estimates = self._estimators.compute(snapshot)
            if estimates:
                snapshot = snapshot.extended(estimates)
        sums = self._meter.compute(snapshot)
        if sums:
            snapshot = snapshot.extended({a: Sample(v, snapshot.taken_at) for a, v in sums.items()})
        # After the totals (a meter may read them); each keeps its oldest input's timestamp.
        virtual = self._virtual.compute(snapshot)
        if virtual:
            snapshot = snapshot.extended(virtual)
        if estimates:
            virtual = {**estimates, **virtual}
        return snapshot, sums, virtual

    def run_once(self, index: int, jitter_s: float = 0.0) -> CycleWrites:
        """Run one cycle now; returns the writes it applied."""
        started = time.perf_counter()
        now_s = self._clock.time()
        # First: a controller must hear of a failed write before it decides again.
        self._settle_device_writes(now_s)
        if self._gate is not None and not self._gate.may_control():
            self._follow(index, jitter_s, started, now_s)
            return CycleWrites()
        # Controllers see the totals and meters of this very snapshot.
        snapshot, sums, virtual = self._computed(self._store.snapshot())
        writes = CycleWrites()
        taken: dict[str, tuple[str, Mapping[str, Any]]] = {}  # command id -> (address, request)
        self._reconfigure(snapshot, now_s, writes, taken)
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
        self._store_virtual(virtual)
        written = self._apply(writes, sums, now_s, taken)
        for hook in self.after_cycle:  # after _apply: they see which commands await a device
            hook()
        self.last_view = snapshot.extended({a: Sample(v, now_s) for a, v in written.items()})
        self._count(index, jitter_s, started, now_s)
        return writes

    def _follow(self, index: int, jitter_s: float, started: float, now_s: float) -> None:
        """A cycle without control (an HA follower): the site totals and the cycle's own
        channels stay fresh, nothing is decided or written."""
        snapshot, sums, virtual = self._computed(self._store.snapshot())
        if sums:
            self._store.set_channels(dict(sums), ts=now_s)
        self._store_virtual(virtual)
        self.last_view = snapshot
        self._count(index, jitter_s, started, now_s)

    def _count(self, index: int, jitter_s: float, started: float, now_s: float) -> None:
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
            request = self._take(address, snapshot, now_s)
            if request is not None:
                taken[address] = request
        return taken

    def _take(self, address: str, snapshot: Snapshot, now_s: float) -> Mapping[str, Any] | None:
        sample = snapshot.get(address)
        if sample is None or sample.value is None or not isinstance(sample.value, Mapping):
            return None
        request = sample.value
        if self._store.compare_and_set(
            address,
            lambda s, r=request: s is not None and s.value is r,  # type: ignore[misc]
            None,
            ts=now_s,
        ):
            return request
        return None

    def _reconfigure(
        self,
        snapshot: Snapshot,
        now_s: float,
        writes: CycleWrites,
        taken: dict[str, tuple[str, Mapping[str, Any]]],
    ) -> None:
        """Apply pending ``set_controller`` requests before any controller runs, so the
        new parameters hold for this whole cycle; publish every settable parameter."""

        def past_deadline(deadline_s: float) -> bool:
            return self._sync.past_deadline(now_s, deadline_s, self._margin_s)

        for address, controller in self._settable.items():
            request = self._take(address, snapshot, now_s)
            if request is not None:
                taken[str(request.get("command_id", ""))] = (address, request)
                ack = apply_request(controller, request, past_deadline)
                if ack.status != "executed":
                    log.info(
                        "set_controller %s on %s %s: %s (%s)",
                        ack.command_id,
                        controller.id,
                        ack.status,
                        ack.reason,
                        ack.detail,
                    )
                writes.acks.append(ack)
            for name in controller.settable_params:
                writes.status[f"{controller.id}/{status_name(name)}"] = getattr(
                    controller.params, name
                )

    def _apply(
        self,
        writes: CycleWrites,
        sums: Mapping[str, Value],
        now_s: float,
        taken: Mapping[str, tuple[str, Mapping[str, Any]]],
    ) -> dict[str, Value]:
        """Store the cycle's outputs, totals and status, send setpoints, answer commands;
        returns what it stored."""
        values = dict(self._defaults)
        for address, rng in writes.ranges.items():
            if address not in writes.outputs:  # nobody wrote it: its default, within the range
                values[address] = clamp_into(writes.clamps, address, values[address], rng)
        values.update(writes.outputs)
        values.update(sums)
        values.update(writes.status)
        self._store.set_channels(values, ts=now_s)
        held = self._send_to_devices(values, writes.acks, taken)
        # Acks after outputs: whoever sees "executed" finds the setpoint applied.
        for ack in writes.acks:
            entry = taken.get(ack.command_id)
            if ack.command_id in held:
                self._awaiting[ack.command_id] = _AwaitingWrite(ack, entry, _deadline_of(entry))
            else:
                self._finish(ack, entry, now_s)
        return values

    def _store_virtual(self, samples: Mapping[str, Sample]) -> None:
        """Store the virtual meters with their own timestamps (one write per timestamp)."""
        by_ts: dict[float, dict[str, Value]] = {}
        for address, sample in samples.items():
            by_ts.setdefault(sample.ts, {})[address] = sample.value
        for ts, values in by_ts.items():
            self._store.set_channels(values, ts=ts)

    def _finish(self, ack: Ack, taken: tuple[str, Mapping[str, Any]] | None, now_s: float) -> None:
        if ack.status == "executed":
            # Logged before the ack is written: the ack is what reaches the cloud.
            self._log_execution(ack.command_id, taken, now_s)
        self._store.set_channel(ack.address, ack.value(to_rfc3339(now_s)), ts=now_s)
        self._audit.record(
            "controller." + ack.status,
            ack.command_id,
            now_s,
            status=ack.status,
            reason=ack.reason,
            detail=ack.detail,
            channel=ack.address,
        )

    def _drop_failed(self, command_id: str) -> None:
        """A command whose write failed: no controller may keep holding its value."""
        self.stats.device_write_failures += 1
        for controller in self.controllers:
            try:
                controller.command_failed(command_id)
            except Exception:
                log.exception("controller %s: command_failed(%s) raised", controller.id, command_id)
        if self._state is not None:
            # On disk before the failed ack: a restarted edge must not resume the hold.
            self._state.save_if_changed(self.controllers)

    def _send_to_devices(
        self,
        values: Mapping[str, Value],
        acks: Sequence[Ack],
        taken: Mapping[str, tuple[str, Mapping[str, Any]]],
    ) -> set[str]:
        """Hand driver devices their outputs; the ids of the commands that wait on a write."""
        if self._writer is None:
            return set()
        tags: dict[str, dict[str, list[str]]] = {}  # device -> channel -> command ids
        for ack in acks:
            entry = taken.get(ack.command_id)
            if ack.status != "executed" or entry is None:
                continue
            device, action = self._routes.get(entry[0], ("", ""))
            if device not in self._driven:
                continue
            output = self._devices[device].actions[action].output
            if output is not None:
                tags.setdefault(device, {}).setdefault(output, []).append(ack.command_id)
        for device in self._driven:
            prefix = device + "/"
            outputs = {
                a[len(prefix) :]: v
                for a, v in values.items()
                if a.startswith(prefix) and a in self._output_addresses
            }
            if outputs:
                self._writer.submit(device, outputs, tags.get(device, {}))
        return {cid for by_channel in tags.values() for ids in by_channel.values() for cid in ids}

    def _settle_device_writes(self, now_s: float) -> None:
        """Answer the commands whose device write has a verdict, or whose deadline passed."""
        if self._writer is None:
            return
        for outcome in self._writer.outcomes():
            waiting = self._awaiting.pop(outcome.command_id, None)
            if waiting is None:
                continue
            if outcome.ok:
                self._finish(waiting.ack, waiting.taken, now_s)
                continue
            self._drop_failed(outcome.command_id)
            failed = Ack(
                waiting.ack.address,
                outcome.command_id,
                "failed",
                outcome.reason or reasons.DEVICE_WRITE_FAILED,
                outcome.detail,
            )
            self._finish(failed, waiting.taken, now_s)
        for command_id, waiting in list(self._awaiting.items()):
            due = waiting.deadline_s
            if due is not None and self._sync.past_deadline(now_s, due, self._margin_s):
                del self._awaiting[command_id]
                self._drop_failed(command_id)
                late = Ack(
                    waiting.ack.address,
                    command_id,
                    "failed",
                    reasons.DEVICE_TIMEOUT,
                    "the device did not confirm the write before the command's deadline",
                )
                self._finish(late, waiting.taken, now_s)

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
    def run_now(self) -> None:
        """Start the next cycle now and count the deadlines from it (on the event loop;
        only with a gate: an edge taking control)."""
        if self._kick is not None:
            self._kick.set()

    async def _sleep_or_kick(self, deadline: float) -> bool:
        """Sleep until ``deadline``; True if :meth:`run_now` cut the sleep short."""
        kick = self._kick
        if kick is None:
            await self._clock.sleep_until(deadline)
            return False
        if not kick.is_set():
            sleeper = asyncio.ensure_future(self._clock.sleep_until(deadline))
            kicked = asyncio.ensure_future(kick.wait())
            await asyncio.wait({sleeper, kicked}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, kicked):
                task.cancel()
            await asyncio.gather(sleeper, kicked, return_exceptions=True)
        if kick.is_set():
            kick.clear()
            return True
        return False

    async def run(self, stop: asyncio.Event | None = None, max_cycles: int | None = None) -> None:
        """Run cycles on absolute deadlines until ``stop`` is set or ``max_cycles`` ran."""
        t0 = self._clock.monotonic()
        k = 0
        ran = 0
        while (stop is None or not stop.is_set()) and (max_cycles is None or ran < max_cycles):
            deadline = t0 + k * self.period_s
            if await self._sleep_or_kick(deadline):
                # Cycle k runs now; the next ones follow it a period apart.
                t0 = self._clock.monotonic() - k * self.period_s
                deadline = t0 + k * self.period_s
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


def _units(controller: Controller) -> list[str | None]:
    return [p.unit for p in controller_ref(controller).params]


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


def _deadline_of(taken: tuple[str, Mapping[str, Any]] | None) -> float | None:
    deadline = None if taken is None else taken[1].get("deadline")
    if not isinstance(deadline, str):
        return None
    try:
        return parse_rfc3339(deadline)
    except ValueError:
        return None


def ack_address_for(request_address: str) -> str:
    """``ui_requests/battery_1_power`` → ``ack/battery_1_power``."""
    return ACK_PREFIX + request_address[len(REQUEST_PREFIX) :]
