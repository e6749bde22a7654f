"""A pushed config's devices, applied live: plan, probe, swap, retire.

1. :func:`plan_devices` (on a worker thread) compares the new ``devices:`` with
   the running ones by id. A device whose entry is unchanged keeps its
   simulator or driver object, hence its thread, connection and channels,
   untouched. An added or changed one gets a new simulator or driver (made,
   not started); a removed one is retired.
2. :func:`probe_devices` reads every new driver once (its own timeout and
   retries, all bounded by ``timeout_s``) and steps every new simulator once
   (a zero-length step, off the loop: a model that fails on its first step
   says so now): a device that does not answer or whose model fails makes
   the whole config ``device_not_ready`` and the old one keeps running.
3. :func:`swap_devices` (on the event loop, between two cycles) declares the
   new channels and hands the new set to the simulation host, the driver host,
   the cycle and the request writer, with the new controllers. From the next
   cycle on, setpoints go to the new devices; those of a new driver are queued
   until its thread starts.
4. :func:`retire` (after the swap) stops the threads of replaced and removed
   devices off the event loop, starts the new ones, and forgets the channels
   of removed devices, so they leave the telemetry instead of going stale
   forever. Control never pauses meanwhile: a changed device's inputs are just
   a poll older until its new thread's first poll.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ems.dal import Category
from ems.devices.base import GridSimulator, Simulator, balance_role_of
from ems.devices.measured import MeasuredDevice
from ems.drivers.base import Driver
from ems.drivers.host import DRIVER_CHANNELS, DriverRunner
from ems.edge.config import DeviceConfig, EdgeConfig
from ems.edge.controllers.base import Controller
from ems.edge.device_build import build_driver, build_simulator
from ems.edge.runtime import EdgeRuntime, declare_device_channels
from ems.edge.virtual_meters import VirtualMeters
from ems.errors import ConfigError, DeviceIOError, EmsError
from ems.profiles import DeviceProfile, builtin_profiles
from ems.protocol import config_reasons, reasons

__all__ = [
    "DeviceNotReady",
    "DevicePlan",
    "Retired",
    "plan_devices",
    "probe_devices",
    "retire",
    "swap_devices",
]

log = logging.getLogger(__name__)


class DeviceNotReady(EmsError):
    """A new real device did not answer its first read; the config is not applied."""

    reason = config_reasons.DEVICE_NOT_READY


@dataclass(slots=True)
class DevicePlan:
    """The devices a pushed config asks for, the new ones made but not started."""

    devices: dict[str, DeviceProfile]  # the new set, in the YAML's order
    simulators: list[Simulator]  # kept and new
    drivers: list[Driver]  # kept and new
    new_drivers: list[Driver] = field(default_factory=list)
    new_simulators: list[Simulator] = field(default_factory=list)
    new_profiles: dict[str, DeviceProfile] = field(default_factory=dict)  # added or changed
    removed_channels: list[str] = field(default_factory=list)
    changed: bool = False


@dataclass(slots=True)
class Retired:
    """What the swap took out of service: stopped by :func:`retire`."""

    simulators: list[Simulator]
    runners: list[DriverRunner]
    removed_channels: list[str]


def plan_devices(runtime: EdgeRuntime, config: EdgeConfig) -> DevicePlan:
    """Compare ``config.devices`` with the running ones; make the new simulators and
    drivers. Raises :class:`ConfigError` naming the device that cannot be made."""
    old_entries = {d.id: d for d in runtime.config.devices}
    old_sims = {s.device_id: s for s in runtime.host.simulators}
    old_drivers = {i: r.driver for i, r in runtime.drivers.runners.items()}
    # The profiles this edge runs with (maybe the cloud's), the built-in ones for new types.
    known = {**builtin_profiles(), **{p.type: p for p in runtime.devices.values()}}
    plan = DevicePlan(devices={}, simulators=[], drivers=[])
    for i, entry in enumerate(config.devices):
        if _same(old_entries.get(entry.id), entry):
            plan.devices[entry.id] = runtime.devices[entry.id]
            if entry.id in old_sims:
                plan.simulators.append(old_sims[entry.id])
            if entry.id in old_drivers:
                plan.drivers.append(old_drivers[entry.id])
            continue
        plan.changed = True
        profile = known.get(entry.profile)
        if profile is None:
            raise ConfigError(f"devices[{i}].profile: unknown profile {entry.profile!r}")
        plan.devices[entry.id] = plan.new_profiles[entry.id] = profile
        if entry.simulator is not None:
            simulator = build_simulator(entry, i, runtime.site_context)
            plan.simulators.append(simulator)
            plan.new_simulators.append(simulator)
        elif entry.driver is not None:
            driver = build_driver(entry, i, profile, runtime.driver_context)
            plan.drivers.append(driver)
            plan.new_drivers.append(driver)
    grids = [s.device_id for s in plan.simulators if isinstance(s, GridSimulator)]
    if len(grids) > 1:
        raise ConfigError(f"devices: a site has one simulated grid meter, not {', '.join(grids)}")
    removed = old_entries.keys() - plan.devices.keys()
    plan.changed = plan.changed or bool(removed)
    kept = {
        address
        for device_id, profile in plan.devices.items()
        for address in device_addresses(device_id, profile, _driver_of(plan.drivers, device_id))
    }
    plan.removed_channels = sorted(
        address
        for device_id, profile in runtime.devices.items()
        for address in device_addresses(device_id, profile, old_drivers.get(device_id))
        if address not in kept
    )
    return plan


async def probe_devices(
    drivers: Sequence[Driver], simulators: Sequence[Simulator], now_s: float, timeout_s: float
) -> None:
    """Read every new driver and step every new simulator once, all at once; raise
    :class:`DeviceNotReady` naming the first that failed or did not answer within
    its retries or ``timeout_s``."""
    probes = [
        (d.device_id, _probe(functools.partial(_first_read, d), d.close, timeout_s))
        for d in drivers
    ]
    probes += [
        (s.device_id, _probe(functools.partial(_first_step, s, now_s), None, timeout_s))
        for s in simulators
    ]
    if not probes:
        return
    results = await asyncio.gather(*(p for _, p in probes), return_exceptions=True)
    for (device_id, _), result in zip(probes, results, strict=True):
        if isinstance(result, BaseException):
            raise DeviceNotReady(f"devices.{device_id}: {result}")


async def _probe(
    call: Callable[[], None], close: Callable[[], None] | None, timeout_s: float
) -> None:
    task = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        if close is not None:
            # The thread cannot be cut short: the driver is closed when its read returns.
            task.add_done_callback(lambda _t: close())
        raise TimeoutError(f"no answer within {timeout_s:g} s") from None


def _first_step(simulator: Simulator, now_s: float) -> None:
    """A zero-length step with no setpoints: the model's state does not move."""
    try:
        simulator.step(now_s, 0.0, {})
    except Exception as exc:
        raise ConfigError(f"its model failed: {type(exc).__name__}: {exc}") from exc


def _first_read(driver: Driver) -> None:
    """One poll as the runner would do it: retried on a timeout; a refusal is an answer."""
    retries = driver.config.retries
    for attempt in range(retries + 1):
        try:
            driver.read()
            return
        except DeviceIOError as exc:
            driver.close()
            if attempt == retries or exc.reason != reasons.DEVICE_TIMEOUT:
                raise
        except Exception as exc:  # a driver's bug: the device is not usable either
            driver.close()
            raise DeviceIOError(f"{type(exc).__name__}: {exc}") from exc


def close_drivers(drivers: Sequence[Driver]) -> None:
    """Drop the connections the probe opened (a rejected config); blocking."""
    for driver in drivers:
        try:
            driver.close()
        except Exception:
            log.exception("closing the driver of %s failed", driver.device_id)


def swap_devices(
    runtime: EdgeRuntime,
    plan: DevicePlan,
    controllers: Sequence[Controller],
    virtual: VirtualMeters,
) -> Retired:
    """Synchronous, on the event loop between two cycles. Raises only before it changes
    anything but the new channels it declared (a channel whose category the new
    profile contradicts); those stay declared without a value."""
    store = runtime.store
    declare_device_channels(store, plan.new_profiles)
    for driver in plan.new_drivers:
        runtime.drivers.declare(driver)
    retired_sims = runtime.host.replace(
        plan.simulators,
        {
            device_id: [c.name for c in profile.channels_of(Category.OUTPUT)]
            for device_id, profile in plan.devices.items()
        },
        measured=[
            MeasuredDevice.polled(d.device_id, balance_role_of(d.profile.type), d.config.poll_s)
            for d in plan.drivers
        ],
    )
    retired_runners = runtime.drivers.replace(plan.drivers)
    runtime.requests.replace_devices(plan.devices)
    runtime.cycle.replace_devices(
        plan.devices,
        # Kept when the last driver goes too: its writes' verdicts are still collected.
        runtime.drivers if runtime.drivers.runners or retired_runners else None,
        controllers,
        virtual,
    )
    runtime.devices = plan.devices
    runtime.simulators = plan.simulators
    return Retired(retired_sims, retired_runners, plan.removed_channels)


async def retire(runtime: EdgeRuntime, retired: Retired) -> None:
    """Stop what the swap retired (off the loop), start the new threads, forget the
    channels of removed devices. New threads start only once the old ones of the same
    device stopped, so a device is never polled or stepped by two threads."""

    def stop_old() -> None:
        runtime.host.retire(retired.simulators)
        for runner in retired.runners:
            runner.stop()

    if retired.simulators or retired.runners:
        await asyncio.to_thread(stop_old)
    runtime.host.start_new()
    runtime.drivers.start_new()
    runtime.store.remove(retired.removed_channels)


def device_addresses(device_id: str, profile: DeviceProfile, driver: Driver | None) -> list[str]:
    """Every channel a device has in the DAL: its profile's, its actions', its driver's."""
    out = [f"{device_id}/{c.name}" for c in profile.channels.values()]
    for action in profile.actions.values():
        out += [action.request_address(device_id), action.ack_address(device_id)]
    if driver is not None:
        out += [f"{device_id}/{n}" for n in {**driver.extra_channels(), **DRIVER_CHANNELS}]
    return out


def _same(old: DeviceConfig | None, new: DeviceConfig) -> bool:
    return old is not None and old.model_dump() == new.model_dump()


def _driver_of(drivers: Sequence[Driver], device_id: str) -> Driver | None:
    return next((d for d in drivers if d.device_id == device_id), None)
