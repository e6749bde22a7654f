"""Apply a config the cloud pushed, between two cycles, or keep the old one and say why.

What is applied live: ``controllers``, ``tariff`` and ``virtual_meters``. The
new controllers (and tariff, whose price files are read) are built on a worker
thread while the old ones keep running; the swap itself is a few assignments
on the event loop, which also runs the cycle, so it falls between two cycles
and control never pauses (no cycle is skipped). A config that changes
anything else (devices, cycle period, site, link settings...) is refused with
``restart_required``: those parts own threads and sockets that cannot be
swapped within one cycle; the operator restarts the edge with it. Such a
config is still built first (devices and drivers made, not started), so a
device that cannot be made is ``build_failed`` with its reason.

What survives a swap: the channel store and its values, the telemetry buffer
and the cloud link (untouched), and each controller's durable state (the
manual hold and its mode) when the new config keeps a controller with the
same id and type. Parameter changes made at run time by ``set_controller``
do not survive: the pushed parameters are the new truth.

Reasons of a ``rejected`` ack: ``invalid_config`` (the edge's schema refuses
it; the detail names the field), ``wrong_edge``, ``stale_version`` (older than
the applied one), ``restart_required``, ``build_failed`` (e.g. a controller
refusing its parameters for this site's devices; the detail names it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ems.edge.config import EdgeConfig, parse_edge_config
from ems.edge.configsync.applied import AppliedConfig, AppliedConfigFile
from ems.edge.controllers.base import Controller
from ems.edge.runtime import EdgeRuntime, build_controllers, build_tariff, build_virtual_meters
from ems.edge.virtual_meters import VirtualMeters
from ems.errors import EmsError
from ems.profiles import builtin_profiles
from ems.protocol import EdgeConfigAck, EdgeConfigPush
from ems.tariff import Tariff

__all__ = ["LIVE_SECTIONS", "ConfigApplier"]

log = logging.getLogger(__name__)

#: The top-level sections a pushed config may change without a restart.
LIVE_SECTIONS = frozenset({"controllers", "tariff", "virtual_meters"})
_DETAIL_MAX = 1000


class ConfigApplier:
    """Applies pushed configs to ``runtime``; ``applied`` keeps the last one on disk.

    ``version``: the cloud version the runtime runs now (None: the local file).
    ``on_applied`` is called after a swap (the link sends its new inventory).
    """

    def __init__(
        self,
        runtime: EdgeRuntime,
        applied: AppliedConfigFile | None,
        version: int | None = None,
        *,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self._runtime = runtime
        self._applied = applied
        self.version = version
        self._on_applied = on_applied or (lambda: None)
        self._lock = asyncio.Lock()  # one config at a time, in arrival order

    async def apply(self, push: EdgeConfigPush) -> EdgeConfigAck:
        async with self._lock:
            ack = await self._apply(push)
        if ack.status == "rejected":
            log.warning("config version %d rejected (%s): %s", push.version, ack.reason, ack.detail)
        else:
            log.info("config version %d applied", push.version)
        return ack

    async def _apply(self, push: EdgeConfigPush) -> EdgeConfigAck:
        current = self._runtime.config
        if self.version is not None and push.version < self.version:
            return _rejected(push, "stale_version", f"version {self.version} is applied")
        if self.version == push.version:
            return EdgeConfigAck(type="config_ack", version=push.version, status="applied")
        try:
            config = parse_edge_config(
                push.config, f"config version {push.version}", current.config_dir
            )
        except EmsError as exc:
            return _rejected(push, "invalid_config", str(exc))
        if config.edge_id != current.edge_id:
            return _rejected(
                push, "wrong_edge", f"edge_id: {config.edge_id!r} is not {current.edge_id!r}"
            )
        changed = _changed_sections(current, config) - LIVE_SECTIONS
        if changed:
            try:
                # Built (not started) as a restart would: a device that cannot be made
                # says so now, rather than after the restart.
                await asyncio.to_thread(self._trial, config)
            except (EmsError, ValueError, OSError) as exc:
                return _rejected(push, "build_failed", str(exc))
            return _rejected(
                push,
                "restart_required",
                f"{', '.join(sorted(changed))}: applied only by a restart with this config",
            )
        try:
            # Off the cycle's thread: a controller may read files (schedules, price files).
            controllers, tariff = await asyncio.to_thread(self._build, config)
            virtual = build_virtual_meters(config, self._runtime.devices, controllers)
        except (EmsError, ValueError, OSError) as exc:
            return _rejected(push, "build_failed", str(exc))
        self._swap(config, controllers, tariff, virtual)
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

    def _build(self, config: EdgeConfig) -> tuple[list[Controller], Tariff | None]:
        tariff = build_tariff(config)
        runtime = self._runtime
        return build_controllers(config, runtime.devices, tariff, runtime.inline_work), tariff

    def _swap(
        self,
        config: EdgeConfig,
        controllers: list[Controller],
        tariff: Tariff | None,
        virtual: VirtualMeters,
    ) -> None:
        """Synchronous, on the event loop: no cycle runs while it does."""
        runtime = self._runtime
        old = {(c.id, type(c)): c for c in runtime.controllers}
        for controller in controllers:
            previous = old.get((controller.id, type(controller)))
            state = None if previous is None else previous.durable_state()
            if state is not None:
                controller.restore_state(state)  # the manual hold and its mode survive
        runtime.cycle.replace_controllers(controllers, virtual)
        runtime.requests.replace_controllers(controllers)
        replaced = runtime.controllers
        runtime.controllers = controllers
        for controller in replaced:
            controller.close()  # after the swap: no cycle runs them again
        runtime.virtual_meters = virtual
        runtime.tariff = tariff
        runtime.config = config
        if runtime.controller_state is not None:
            runtime.controller_state.save_if_changed(runtime.cycle.controllers)


def _changed_sections(old: EdgeConfig, new: EdgeConfig) -> set[str]:
    before = old.model_dump()
    after = new.model_dump()
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _rejected(push: EdgeConfigPush, reason: str, detail: str) -> EdgeConfigAck:
    return EdgeConfigAck(
        type="config_ack",
        version=push.version,
        status="rejected",
        reason=reason,
        detail=detail[:_DETAIL_MAX],
    )
