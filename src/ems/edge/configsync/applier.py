"""Apply a config the cloud pushed, between two cycles, or keep the old one and say why.

What is applied live: ``devices``, ``controllers``, ``tariff`` and
``virtual_meters``. Everything new (devices' simulators and drivers, the
controllers, the tariff whose price files are read) is made on a worker
thread while the old config keeps running; every new real device must answer
a first read and every new simulator take a first step
(:mod:`ems.edge.configsync.devices`); the swap itself is a few
assignments on the event loop, which also runs the cycle, so it falls between
two cycles and control never pauses (no cycle is skipped). Devices whose
entry did not change keep running untouched; replaced and removed ones are
stopped after the swap, and removed ones' channels leave the DAL. A config
that changes anything else (cycle period, site, link settings...) is refused
with ``restart_required``: those parts own timers and sockets that cannot be
swapped within one cycle; the operator restarts the edge with it. Such a
config is still built first (devices and drivers made, not started), so a
device that cannot be made is ``build_failed`` with its reason.

What survives a swap: the channel store and its values, the telemetry buffer
and the cloud link (untouched), and each controller's durable state (the
manual hold and its mode) when the new config keeps a controller with the
same id and type, and each battery's SOC estimator (its filter, health trends and
learned model) when its ``estimator:`` is unchanged; an added or changed one starts
from its prior, one taken out stops. Parameter changes made at run time by ``set_controller``
do not survive: the pushed parameters are the new truth. A command pending
for a removed device fails with ``device_removed``.

Reasons of a ``rejected`` ack: ``invalid_config`` (the edge's schema refuses
it; the detail names the field), ``wrong_edge``, ``stale_version`` (older than
the applied one), ``restart_required``, ``build_failed`` (e.g. a controller
refusing its parameters for this site's devices, a simulator refusing its
parameters; the detail names it), ``device_not_ready`` (a new real device did
not answer its first read, or a new simulator's model failed its first step,
within ``device_ready_timeout_s``; the detail names it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ems.edge.config import EdgeConfig, parse_edge_config
from ems.edge.configsync.applied import AppliedConfig, AppliedConfigFile
from ems.edge.configsync.devices import (
    DeviceNotReady,
    DevicePlan,
    Retired,
    close_drivers,
    plan_devices,
    probe_devices,
    retire,
    swap_devices,
)
from ems.edge.controllers.base import Controller
from ems.edge.runtime import (
    EdgeRuntime,
    build_controllers,
    build_estimators,
    build_tariff,
    build_virtual_meters,
    estimator_configs,
)
from ems.edge.virtual_meters import VirtualMeters
from ems.errors import EmsError
from ems.profiles import builtin_profiles
from ems.protocol import EdgeConfigAck, EdgeConfigPush, config_reasons
from ems.tariff import Tariff

if TYPE_CHECKING:
    from ems.estimation.stage import SocEstimators

__all__ = ["DEVICE_READY_TIMEOUT_S", "LIVE_SECTIONS", "BeforeSwap", "ConfigApplier"]

log = logging.getLogger(__name__)

#: The top-level sections a pushed config may change without a restart.
LIVE_SECTIONS = frozenset({"devices", "controllers", "tariff", "virtual_meters"})
#: How long a new real device has to answer its first read (its retries included).
DEVICE_READY_TIMEOUT_S = 10.0
_DETAIL_MAX = 1000

#: Asked once a config is built and its new devices answered, right before the swap:
#: ``None`` lets it in, ``(reason, detail)`` rejects it (an HA pair commits it here).
BeforeSwap = Callable[[EdgeConfigPush], Awaitable[tuple[str, str] | None]]


@dataclass(slots=True)
class _Built:
    plan: DevicePlan
    controllers: list[Controller]
    tariff: Tariff | None
    virtual: VirtualMeters
    #: Built only when a battery's ``estimator:`` changed (else the running ones go on).
    estimators: SocEstimators | None
    estimators_changed: bool

    def discard(self, running: SocEstimators | None) -> None:
        """A config rejected after it was built: drop what it made (blocking)."""
        close_drivers(self.plan.new_drivers)
        if self.estimators_changed and self.estimators is not None:
            self.estimators.close(successor=running)


class ConfigApplier:
    """Applies pushed configs to ``runtime``; ``applied`` keeps the last one on disk.

    ``version``: the cloud version the runtime runs now (None: the local file).
    ``on_applied`` is called after a swap (the link sends its new inventory).
    ``device_ready_timeout_s``: see :data:`DEVICE_READY_TIMEOUT_S`.
    """

    def __init__(
        self,
        runtime: EdgeRuntime,
        applied: AppliedConfigFile | None,
        version: int | None = None,
        *,
        on_applied: Callable[[], None] | None = None,
        device_ready_timeout_s: float = DEVICE_READY_TIMEOUT_S,
    ) -> None:
        self._runtime = runtime
        self._applied = applied
        self.version = version
        self._on_applied = on_applied or (lambda: None)
        self._ready_timeout_s = device_ready_timeout_s
        self._lock = asyncio.Lock()  # one config at a time, in arrival order

    async def apply(
        self, push: EdgeConfigPush, before_swap: BeforeSwap | None = None
    ) -> EdgeConfigAck:
        async with self._lock:
            ack = await self._apply(push, before_swap)
        if ack.status == "rejected":
            log.warning("config version %d rejected (%s): %s", push.version, ack.reason, ack.detail)
        else:
            log.info("config version %d applied", push.version)
        return ack

    async def _apply(self, push: EdgeConfigPush, before_swap: BeforeSwap | None) -> EdgeConfigAck:
        current = self._runtime.config
        if self.version is not None and push.version < self.version:
            return EdgeConfigAck.rejected(
                push.version, config_reasons.STALE_VERSION, f"version {self.version} is applied"
            )
        if self.version == push.version:
            return EdgeConfigAck(type="config_ack", version=push.version, status="applied")
        try:
            config = parse_edge_config(
                push.config, f"config version {push.version}", current.config_dir
            )
        except EmsError as exc:
            return EdgeConfigAck.rejected(push.version, config_reasons.INVALID_CONFIG, str(exc))
        if config.edge_id != current.edge_id:
            return EdgeConfigAck.rejected(
                push.version,
                config_reasons.WRONG_EDGE,
                f"edge_id: {config.edge_id!r} is not {current.edge_id!r}",
            )
        changed = _changed_sections(current, config) - LIVE_SECTIONS
        if changed:
            try:
                # Built (not started) as a restart would: a device that cannot be made
                # says so now, rather than after the restart.
                await asyncio.to_thread(self._trial, config)
            except (EmsError, ValueError, OSError) as exc:
                return EdgeConfigAck.rejected(push.version, config_reasons.BUILD_FAILED, str(exc))
            return EdgeConfigAck.rejected(
                push.version,
                config_reasons.RESTART_REQUIRED,
                f"{', '.join(sorted(changed))}: applied only by a restart with this config",
            )
        try:
            # Off the cycle's thread: a controller may read files (schedules, price files),
            # a simulator may load its model.
            built = await asyncio.to_thread(self._build, config)
        except (EmsError, ValueError, OSError) as exc:
            return EdgeConfigAck.rejected(push.version, config_reasons.BUILD_FAILED, str(exc))
        new_drivers = built.plan.new_drivers
        try:
            await probe_devices(
                new_drivers,
                built.plan.new_simulators,
                self._runtime.clock.time(),
                self._ready_timeout_s,
            )
        except DeviceNotReady as exc:
            await asyncio.to_thread(built.discard, self._runtime.estimators)
            return EdgeConfigAck.rejected(push.version, config_reasons.DEVICE_NOT_READY, str(exc))
        refusal = None if before_swap is None else await before_swap(push)
        if refusal is not None:
            await asyncio.to_thread(built.discard, self._runtime.estimators)
            return EdgeConfigAck.rejected(push.version, *refusal)
        try:
            retired = self._swap(config, built)
        except (EmsError, ValueError) as exc:  # raised before the swap (see swap_devices)
            await asyncio.to_thread(built.discard, self._runtime.estimators)
            return EdgeConfigAck.rejected(push.version, config_reasons.BUILD_FAILED, str(exc))
        if retired is not None:
            # After the swap, the cycle running meanwhile: old device threads stop (joined
            # off the loop), then the new ones start.
            await retire(self._runtime, retired)
        self.version = push.version
        if self._applied is not None:
            try:
                self._applied.save(
                    AppliedConfig(push.version, dict(push.config), self._runtime.clock.time())
                )
            except OSError as exc:  # it runs; only a restart would fall back to the file
                log.error("applied config version %d not saved: %s", push.version, exc)
        self._on_applied()
        return EdgeConfigAck(type="config_ack", version=push.version, status="applied")

    def _trial(self, config: EdgeConfig) -> None:
        runtime = self._runtime
        # The profiles this edge runs with (maybe the cloud's), the built-in ones for new types.
        profiles = {
            **builtin_profiles(),
            **{d.profile: runtime.devices[d.id] for d in runtime.config.devices},
        }
        EdgeRuntime(config, runtime.clock, profiles)

    def _build(self, config: EdgeConfig) -> _Built:
        runtime = self._runtime
        plan = plan_devices(runtime, config)
        tariff = build_tariff(config)
        controllers = build_controllers(config, plan.devices, tariff, runtime.inline_work)
        virtual = build_virtual_meters(config, plan.devices, controllers)
        changed = estimator_configs(config) != estimator_configs(runtime.config)
        estimators = runtime.estimators
        if changed:
            estimators = build_estimators(
                config, runtime.state_dir, runtime.inline_work, carried=runtime.estimators
            )
        return _Built(plan, controllers, tariff, virtual, estimators, changed)

    def _swap(self, config: EdgeConfig, built: _Built) -> Retired | None:
        """Synchronous, on the event loop: no cycle runs while it does. Returns the
        devices it took out of service, to stop (None: the devices did not change)."""
        runtime = self._runtime
        controllers = built.controllers
        old = {(c.id, type(c)): c for c in runtime.controllers}
        for controller in controllers:
            previous = old.get((controller.id, type(controller)))
            state = None if previous is None else previous.durable_state()
            if state is not None:
                controller.restore_state(state)  # the manual hold and its mode survive
        retired = None
        if built.plan.changed:
            retired = swap_devices(runtime, built.plan, controllers, built.virtual)
        else:
            runtime.cycle.replace_controllers(controllers, built.virtual)
        runtime.requests.replace_controllers(controllers)
        if built.estimators_changed:
            runtime.cycle.replace_estimators(built.estimators)
            if runtime.estimators is not None:
                runtime.estimators.close(successor=built.estimators)
            runtime.estimators = built.estimators
        replaced = runtime.controllers
        runtime.controllers = controllers
        for controller in replaced:
            controller.close()  # after the swap: no cycle runs them again
        runtime.virtual_meters = built.virtual
        runtime.tariff = built.tariff
        runtime.config = config
        if runtime.controller_state is not None:
            runtime.controller_state.save_if_changed(runtime.cycle.controllers)
        return retired


def _changed_sections(old: EdgeConfig, new: EdgeConfig) -> set[str]:
    before = old.model_dump()
    after = new.model_dump()
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
