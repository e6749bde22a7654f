"""Assembles an edge from its configuration: store, simulators, controllers, cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.dal import Category, ChannelStore
from ems.devices.base import Simulator, SiteContext, balance_role_of
from ems.devices.host import SimulationHost
from ems.devices.measured import MeasuredDevice
from ems.drivers.base import Driver, DriverContext
from ems.drivers.host import DriverHost
from ems.edge.clocksync import ClockSync
from ems.edge.config import EdgeConfig, validate_params
from ems.edge.controller_state import CONTROLLER_STATE_FILE, ControllerStateFile
from ems.edge.controllers.base import CONTROLLERS, Controller, ControllerSite
from ems.edge.cycle import EdgeCycle
from ems.edge.device_build import build_driver, build_simulator
from ems.edge.executions import ExecutionSink
from ems.edge.ha.gate import ControlGate
from ems.edge.requests import RequestWriter
from ems.edge.virtual_meters import VirtualMeters, plan_meters, site_channels
from ems.errors import ConfigError
from ems.estimation.config import EkfConfig
from ems.profiles import DeviceProfile, builtin_profiles
from ems.tariff import Tariff

if TYPE_CHECKING:
    from ems.estimation.stage import SocEstimators

__all__ = [
    "EdgeRuntime",
    "build_controllers",
    "build_estimators",
    "build_tariff",
    "build_virtual_meters",
    "declare_device_channels",
    "estimator_configs",
]


def declare_device_channels(store: ChannelStore, devices: Mapping[str, DeviceProfile]) -> None:
    """Declare every channel of every device, with its request and ack channels."""
    for device_id, profile in devices.items():
        for channel in profile.channels.values():
            store.declare(f"{device_id}/{channel.name}", channel.category, channel.unit)
        for action in profile.actions.values():
            store.declare(action.request_address(device_id), Category.REQUEST)
            store.declare(action.ack_address(device_id), Category.ACK)


class EdgeRuntime:
    """One site's edge: everything wired, nothing started."""

    def __init__(
        self,
        config: EdgeConfig,
        clock: Clock,
        profiles: Mapping[str, DeviceProfile] | None = None,
        *,
        isolate_models: bool = False,
        executions: ExecutionSink | None = None,
        state_dir: Path | None = None,
        inline_work: bool = False,
        gate: ControlGate | None = None,
        device_source_host: str | None = None,
    ) -> None:
        """``isolate_models``: heavy simulator models run in short-lived child processes
        (a long-running edge stays small; see :class:`~ems.devices.base.SiteContext`).
        ``executions`` takes every command the cycle applies (the execution log).
        ``state_dir``: where the controllers' durable state (the manual hold and
        mode) is kept across restarts; ``None`` keeps it in memory only.
        ``inline_work``: controllers do their heavy work (the optimiser's solve) on
        the cycle's thread, deterministically (``ems simulate``), not on a worker.
        ``gate``: an HA edge's control lease (:mod:`ems.edge.ha`); None: a single box,
        always in control. ``device_source_host``: the local address device connections
        leave from (an HA node's own, so devices can tell the two edges apart)."""
        profiles = builtin_profiles() if profiles is None else profiles
        self.config = config
        self.clock = clock
        self.store = ChannelStore(clock)
        #: This edge's audit records (the cloud link forwards them to the cloud).
        self.audit = AuditTrail("edge", edge_id=config.edge_id)
        #: The measured offset to the cloud's clock (the cloud link updates it).
        self.clock_sync = ClockSync()
        self.devices: dict[str, DeviceProfile] = {d.id: profiles[d.profile] for d in config.devices}
        declare_device_channels(self.store, self.devices)
        site = SiteContext(
            config.site.latitude_deg,
            config.site.longitude_deg,
            config.site.altitude_m,
            config.site.timezone,
            isolate_models=isolate_models,
            config_dir=str(config.config_dir),
        )
        #: What simulators and drivers are made with (a pushed config makes more).
        self.site_context = site
        self.driver_context = DriverContext(
            config_dir=config.config_dir, clock=clock, source_host=device_source_host
        )
        self.simulators = self._build_simulators(site)
        drivers = self._build_drivers()
        #: What energy costs here (None without a ``tariff:`` block); price files are read now.
        self.tariff = build_tariff(config)
        self.host = SimulationHost(
            self.store,
            clock,
            self.simulators,
            {
                device_id: [c.name for c in profile.channels_of(Category.OUTPUT)]
                for device_id, profile in self.devices.items()
            },
            period_s=1.0,  # simulators update the DAL every second, whatever the cycle period
            # A simulated grid meter sees the real devices too (a measured one is no simulator).
            measured=[
                MeasuredDevice.polled(d.device_id, balance_role_of(d.profile.type), d.config.poll_s)
                for d in drivers
            ],
        )
        #: Real devices, each polled on its own thread; the cycle writes through it. Their
        #: polls go through the simulation host, which closes a simulated grid over them.
        self.drivers = DriverHost(
            self.store,
            clock,
            drivers,
            self.host.publish_measured,
            may_write=None if gate is None else gate.may_write,
        )
        #: Controllers do their slow work inline (``ems simulate``), not on threads.
        self.inline_work = inline_work
        self.controllers = self._build_controllers()
        #: The YAML's computed channels (``<id>/Value``), checked against these devices.
        self.virtual_meters = self._build_virtual_meters()
        #: Where learned models and the controllers' durable state are kept (None: memory).
        self.state_dir = state_dir
        self.estimators = build_estimators(config, state_dir, inline_work)
        self.controller_state: ControllerStateFile | None = None
        if state_dir is not None:
            self.controller_state = ControllerStateFile(state_dir / CONTROLLER_STATE_FILE)
            self.controller_state.restore(self.controllers)
        self.cycle = EdgeCycle(
            self.store,
            clock,
            self.controllers,
            self.devices,
            period_s=config.cycle.period_s,
            deadline_margin_s=config.commands.deadline_margin_s,
            audit=self.audit,
            clock_sync=self.clock_sync,
            executions=executions,
            state=self.controller_state,
            device_writer=self.drivers if self.drivers.runners else None,
            virtual_meters=self.virtual_meters,
            estimators=self.estimators,
            gate=gate,
        )
        self._prepared = False
        self._isolate_models = isolate_models
        self.requests = RequestWriter(
            self.store,
            clock,
            self.devices,
            config.commands.deadline_margin_s,
            audit=self.audit,
            clock_sync=self.clock_sync,
            controllers=self.controllers,
        )

    def _build_simulators(self, site: SiteContext) -> list[Simulator]:
        return [
            build_simulator(device, i, site)
            for i, device in enumerate(self.config.devices)
            if device.simulator is not None
        ]

    def _build_drivers(self) -> list[Driver]:
        return [
            build_driver(device, i, self.devices[device.id], self.driver_context)
            for i, device in enumerate(self.config.devices)
            if device.driver is not None
        ]

    def _build_controllers(self) -> list[Controller]:
        return build_controllers(self.config, self.devices, self.tariff, self.inline_work)

    def _build_virtual_meters(self) -> VirtualMeters:
        return build_virtual_meters(self.config, self.devices, self.controllers)

    async def prepare(self) -> None:
        """Give every device its first values (once); :meth:`run` does it if not done yet.

        With ``isolate_models`` off the event loop: a model's first step may
        then take seconds (the PV day profile in a child process). A connected
        edge prepares before its link connects, so a command the cloud
        delivers at once (queued while the edge was away) meets a cycle that
        is about to run.
        """
        if self._prepared:
            return
        if self._isolate_models:
            await asyncio.to_thread(self.host.tick_all)
        else:
            # Inline: an in-process model may import pvlib/numpy on its first step,
            # and an import on another thread races with this one's use of them.
            self.host.tick_all()
        self._prepared = True

    async def run(self, stop: asyncio.Event) -> None:
        """Run the simulator and driver threads and the cycle until ``stop`` is set."""
        await self.prepare()  # every device has values before the first cycle
        self.host.start()
        self.drivers.start()
        try:
            await self.cycle.run(stop)
        finally:
            for controller in self.controllers:
                controller.close()
            self.drivers.stop()
            self.host.stop()


def build_controllers(
    config: EdgeConfig,
    devices: Mapping[str, DeviceProfile],
    tariff: Tariff | None = None,
    inline_work: bool = False,
) -> list[Controller]:
    """The config's controllers for these devices; a misfit parameter is a ConfigError.

    ``tariff``: the site's (the optimiser plans with it); ``inline_work``: controllers
    do their slow work (a solve) inline on the cycle, as ``ems simulate`` needs."""
    controllers: list[Controller] = []
    site = ControllerSite(
        config.site.timezone, config.config_dir, tariff=tariff, inline_work=inline_work
    )
    for i, ctrl in enumerate(config.controllers):
        cls = CONTROLLERS.get(ctrl.type)
        params = validate_params(cls.config_model, ctrl.params, ("controllers", i, "params"))
        try:
            controllers.append(cls.create(ctrl.id, ctrl.priority, params, devices, site))
        except ValueError as exc:  # a parameter that does not fit this site's devices
            raise ConfigError(f"controllers[{i}].params.{exc}") from None
    return controllers


def build_estimators(
    config: EdgeConfig,
    state_dir: Path | None = None,
    inline_work: bool = False,
    carried: SocEstimators | None = None,
) -> SocEstimators | None:
    """The batteries' SOC estimators, or None when no device has one (numpy stays unloaded).

    Learned models live in ``state_dir``; ``inline_work`` trains them on the cycle's thread;
    ``carried``: the running ones, whose unchanged batteries go on (a pushed config)."""
    configs = estimator_configs(config)
    if not configs:
        return None
    from ems.estimation.stage import SocEstimators  # numpy: only for a site that uses it

    return SocEstimators(configs, state_dir, inline_training=inline_work, carried=carried)


def estimator_configs(config: EdgeConfig) -> dict[str, EkfConfig]:
    """Device id -> its ``estimator:``, for the batteries that have one."""
    return {d.id: d.estimator for d in config.devices if d.estimator is not None}


def build_virtual_meters(
    config: EdgeConfig, devices: Mapping[str, DeviceProfile], controllers: Sequence[Controller]
) -> VirtualMeters:
    """Checked again here: these profiles may not be the built-in ones the config saw."""
    plans = plan_meters(config.virtual_meters, site_channels(devices), {c.id for c in controllers})
    return VirtualMeters(plans)


def build_tariff(config: EdgeConfig) -> Tariff | None:
    """What energy costs here (None without a ``tariff:`` block); price files are read now."""
    if config.tariff is None:
        return None
    return Tariff.from_config(config.tariff, config.site.timezone, config.config_dir)
