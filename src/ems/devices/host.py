"""Runs simulators against the DAL: one thread per simulator, or lockstep for ``ems simulate``.

The grid connection point is where physics closes the site balance, so every
publish of a balance device goes through :class:`SiteBus`, which recomputes the
grid meter in the same atomic DAL write. That keeps ``load = grid + pv + battery``
exact in every snapshot even though each device runs on its own thread.

A site whose battery or PV is a driver (a real device) and whose grid meter is
simulated also gets the drivers' measured power in that balance
(:mod:`ems.devices.measured`), read from the DAL whenever the grid meter closes
it. The drivers publish their polls through :meth:`SiteBus.publish_measured`,
so a new reading and the grid meter closed over it land in one write too: a
controller never sees the battery's new power beside the grid of its old one
(it would take the difference for load and overshoot). A measured grid meter
(a driver) is never overwritten: it is not a simulator, so there is no
balance to close here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from ems.clock import Clock
from ems.dal import ChannelStore, Sample, Value
from ems.devices.base import BalanceRole, GridSimulator, Simulator
from ems.devices.measured import MeasuredDevice

__all__ = ["SimulationHost", "SiteBus"]

log = logging.getLogger(__name__)

# Sign with which each role's ActivePower enters the site's net demand, for
# simulated and measured devices alike.
_NET_SIGN = {
    BalanceRole.CONSUMPTION: 1.0,
    BalanceRole.GENERATION: -1.0,
    BalanceRole.STORAGE: -1.0,
}


class SiteBus:
    """Publishes device channels and keeps the grid meter consistent with them."""

    def __init__(
        self,
        store: ChannelStore,
        grid: GridSimulator | None,
        measured: Sequence[MeasuredDevice] = (),
    ) -> None:
        """``measured``: driver devices whose ActivePower the grid meter counts too."""
        self._store = store
        self._grid = grid
        self._lock = threading.Lock()
        self._power_w: dict[str, float] = {}  # balance device id -> signed contribution
        self._measured = [(m, _NET_SIGN[m.role]) for m in measured if m.role in _NET_SIGN]
        self._members: set[int] | None = None  # the simulators it publishes (None: any)

    def reconfigure(
        self,
        simulators: Sequence[Simulator],
        grid: GridSimulator | None,
        measured: Sequence[MeasuredDevice],
    ) -> None:
        """The site's devices after a pushed config: only ``simulators`` publish from now
        on (a retired one's thread may tick once more; that write is dropped, so it can
        neither overwrite its successor nor count in the balance again)."""
        with self._lock:
            self._members = {id(s) for s in simulators}
            ids = {s.device_id for s in simulators}
            self._power_w = {d: w for d, w in self._power_w.items() if d in ids}
            self._grid = grid
            self._measured = [(m, _NET_SIGN[m.role]) for m in measured if m.role in _NET_SIGN]

    def publish(self, sim: Simulator, channels: Mapping[str, Value], now_s: float) -> None:
        prefix = sim.device_id + "/"
        values: dict[str, Value] = {prefix + name: v for name, v in channels.items()}
        with self._lock:
            if self._members is not None and id(sim) not in self._members:
                return
            sign = _NET_SIGN.get(sim.balance_role)
            power = channels.get("ActivePower")
            if sign is not None and isinstance(power, int | float):
                self._power_w[sim.device_id] = sign * float(power)
            if self._grid is not None and (sign is not None or sim is self._grid):
                grid_prefix = self._grid.device_id + "/"
                closed = self._grid.close_balance(now_s, self.net_site_w(now_s))
                values.update({grid_prefix + name: v for name, v in closed.items()})
            self._store.set_channels(values, ts=now_s)

    def publish_measured(self, values: Mapping[str, Value], now_s: float) -> None:
        """A driver's poll (full addresses): stored with the grid closed over it, in one write."""
        with self._lock:
            out = dict(values)
            if self._grid is not None and any(
                f"{m.device_id}/{name}" in values
                for m, _ in self._measured
                for name in ("ActivePower", "CommunicationFailed")
            ):

                def read(address: str) -> Sample | None:
                    if address in values:
                        return Sample(values[address], now_s)
                    return self._store.get_channel(address)

                grid_prefix = self._grid.device_id + "/"
                closed = self._grid.close_balance(now_s, self.net_site_w(now_s, read))
                out.update({grid_prefix + name: v for name, v in closed.items()})
            self._store.set_channels(out, ts=now_s)

    def net_site_w(self, now_s: float, read: Callable[[str], Sample | None] | None = None) -> float:
        """Consumption minus generation minus storage discharge at ``now_s``, in W.

        Measured devices count with their latest reading (``read``, by default the
        DAL's), 0 W when stale.
        """
        simulated_w = sum(self._power_w.values())
        if not self._measured:
            return simulated_w  # a simulated-only site: the exact sum, nothing added
        get = self._store.get_channel if read is None else read
        measured_w = sum(sign * m.power_w(get, now_s) for m, sign in self._measured)
        return simulated_w + measured_w


class SimulationHost:
    """Steps simulators and publishes their channels."""

    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        simulators: Sequence[Simulator],
        output_channels: Mapping[str, Sequence[str]],
        period_s: float = 1.0,
        measured: Sequence[MeasuredDevice] = (),
    ) -> None:
        """``output_channels`` maps a device id to the names of its output channels;
        ``measured`` are the site's driver devices, counted in the grid's balance."""
        grids = [s for s in simulators if isinstance(s, GridSimulator)]
        if len(grids) > 1:
            raise ValueError("a site has one grid connection point")
        self._store = store
        self._clock = clock
        # The grid meter steps last so its energy counters integrate the power
        # the other devices just settled on.
        self._sims = sorted(simulators, key=lambda s: isinstance(s, GridSimulator))
        self._outputs = {
            s.device_id: [(n, f"{s.device_id}/{n}") for n in output_channels.get(s.device_id, ())]
            for s in simulators
        }
        self._period_s = period_s
        self._last_s: dict[str, float] = {}
        self._bus = SiteBus(store, grids[0] if grids else None, measured)
        # One stop event per simulator's thread, so a pushed config can retire one alone.
        self._threads: dict[int, tuple[Simulator, threading.Thread, threading.Event]] = {}
        self._running = False
        self.errors = 0

    @property
    def simulators(self) -> list[Simulator]:
        return list(self._sims)

    def replace(
        self,
        simulators: Sequence[Simulator],
        output_channels: Mapping[str, Sequence[str]],
        measured: Sequence[MeasuredDevice] = (),
    ) -> list[Simulator]:
        """Step ``simulators`` from now on (a pushed config); returns the retired ones.

        Call it between two cycles. The threads of retired simulators keep running
        until :meth:`retire` stops them (off the event loop: it joins threads);
        whatever they publish meanwhile is dropped. A simulator object kept from the
        old set keeps its thread and its state untouched.
        """
        grids = [s for s in simulators if isinstance(s, GridSimulator)]
        if len(grids) > 1:
            raise ValueError("a site has one grid connection point")
        kept = {id(s) for s in simulators}
        retired = [s for s in self._sims if id(s) not in kept]
        self._sims = sorted(simulators, key=lambda s: isinstance(s, GridSimulator))
        self._outputs = {
            s.device_id: [(n, f"{s.device_id}/{n}") for n in output_channels.get(s.device_id, ())]
            for s in simulators
        }
        self._bus.reconfigure(simulators, grids[0] if grids else None, measured)
        return retired

    def retire(self, simulators: Sequence[Simulator], timeout_s: float = 5.0) -> None:
        """Stop the threads of ``simulators`` (retired by :meth:`replace`); blocks."""
        entries = [self._threads.pop(id(s), None) for s in simulators]
        for entry in entries:
            if entry is not None:
                entry[2].set()
        for entry in entries:
            if entry is not None:
                entry[1].join(timeout_s)

    def start_new(self) -> None:
        """Start the threads of simulators added by :meth:`replace`, if the host runs."""
        if self._running:
            self._start_threads(self._clock.monotonic())

    def tick(self, sim: Simulator) -> None:
        """Step one simulator to now and publish it. A failing model is logged, not fatal."""
        now_s = self._clock.time()
        dt_s = now_s - self._last_s.get(sim.device_id, now_s)
        self._last_s[sim.device_id] = now_s
        setpoints: dict[str, Sample] = {}
        for name, address in self._outputs.get(sim.device_id, ()):
            sample = self._store.get_channel(address)
            if sample is not None:
                setpoints[name] = sample
        try:
            channels = sim.step(now_s, dt_s, setpoints)
        except Exception:
            self.errors += 1
            log.exception("simulator %s failed; keeping its last values", sim.device_id)
            return
        self._bus.publish(sim, channels, now_s)

    def publish_measured(self, values: Mapping[str, Value], now_s: float) -> None:
        """Where the site's drivers publish their polls (see :meth:`SiteBus.publish_measured`)."""
        self._bus.publish_measured(values, now_s)

    def tick_all(self) -> None:
        """Step every simulator once, in order (lockstep mode, for ``ems simulate``)."""
        for sim in self._sims:
            self.tick(sim)

    # -- threaded mode ---------------------------------------------------
    def start(self) -> None:
        """Start one thread per simulator, each ticking on absolute deadlines."""
        self._running = True
        self._start_threads(self._clock.monotonic())

    def _start_threads(self, t0: float) -> None:
        for sim in self._sims:
            if id(sim) in self._threads:
                continue
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(sim, t0, stop), name=f"sim-{sim.device_id}", daemon=True
            )
            self._threads[id(sim)] = (sim, thread, stop)
            thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._running = False
        threads = list(self._threads.values())
        self._threads.clear()
        for _, _, stop in threads:
            stop.set()
        for _, thread, _ in threads:
            thread.join(timeout_s)

    def _run(self, sim: Simulator, t0: float, stop: threading.Event) -> None:
        k = 0
        while not stop.is_set():
            self.tick(sim)
            k += 1
            if not self._clock.wait_until(t0 + k * self._period_s, stop):
                return
