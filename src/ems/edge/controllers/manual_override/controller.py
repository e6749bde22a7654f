"""Manual override: carries out operator commands and holds their setpoints.

Each cycle, for every pending request (``ui_requests/<device>_<what>``):
refuse it when past its deadline (``failed(expired)``), revalidate it against
the profile's static range and the snapshot's current dynamic limits
(``failed(revalidation_failed)``), otherwise hold it, clear the request and ack
``executed``. Every cycle after that the held setpoint is written again,
clamped to the current dynamic limits, until a newer command replaces it or
``set_mode: auto`` releases the device. While a device is held, outputs without
a setpoint get their profile default (a battery in manual mode idles at 0 W).
A held numeric output is *pinned* (:meth:`CycleContext.pin`): whatever the
automatic controllers narrowed, the operator's value stands. The mode and the
held setpoints are durable state: an edge restarted resumes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ems.dal import Value
from ems.edge.context import Ack, CycleContext
from ems.edge.controllers.base import Controller, register_controller
from ems.edge.controllers.manual_override.config import ManualOverrideParams
from ems.profiles import (
    ActionSpec,
    DeviceProfile,
    Limits,
    Problem,
    check_static,
    dynamic_limits,
    within,
)
from ems.protocol import reasons
from ems.timefmt import parse_rfc3339

__all__ = ["ManualOverride"]

log = logging.getLogger(__name__)

MODE_ACTION = "set_mode"


@dataclass(slots=True)
class _Held:
    """Manual state of one device: held output values by action name."""

    setpoints: dict[str, float | str | bool] = field(default_factory=dict)
    #: Action name -> the command whose value is held (not durable: a restart keeps
    #: only the values, and a command whose write failed is dropped before its ack).
    sources: dict[str, str] = field(default_factory=dict)


@register_controller
class ManualOverride(Controller):
    type_name = "manual_override"
    config_model = ManualOverrideParams

    def __init__(
        self,
        controller_id: str,
        priority: int,
        params: ManualOverrideParams,
        devices: Mapping[str, DeviceProfile],
    ) -> None:
        super().__init__(controller_id, priority, params, devices)
        wanted = params.devices if params.devices is not None else list(devices)
        unknown = [d for d in wanted if d not in devices]
        if unknown:
            raise ValueError(f"devices: unknown devices {unknown}")
        self._served = {d: devices[d] for d in wanted if devices[d].actions}
        # (device, action, request address), worked out once: the cycle is hot.
        self._routes = [
            (device_id, action, action.request_address(device_id))
            for device_id, profile in self._served.items()
            for action in profile.actions.values()
        ]
        self._held: dict[str, _Held] = {}  # device id -> state while in manual mode

    def held(self, device_id: str) -> dict[str, float | str | bool] | None:
        """The device's held setpoints by action, or ``None`` when in auto mode."""
        state = self._held.get(device_id)
        return None if state is None else dict(state.setpoints)

    def durable_state(self) -> dict[str, Any]:
        # A device present is in manual mode (with its held setpoints, maybe none).
        return {"held": {d: dict(s.setpoints) for d, s in self._held.items()}}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        held = state.get("held")
        if not isinstance(held, Mapping):
            return
        for device_id, setpoints in held.items():
            profile = self._served.get(device_id)
            if profile is None or not isinstance(setpoints, Mapping):
                log.warning("saved manual hold of %r ignored: not a device served", device_id)
                continue
            # Only values that still fit the profile; each cycle clamps to live limits.
            kept = {
                name: value
                for name, value in setpoints.items()
                if name in profile.actions
                and name != MODE_ACTION
                and check_static(profile.actions[name], value) is None
            }
            self._held[device_id] = _Held(kept)
            log.info("%s resumes manual mode, holding %s", device_id, kept or "its defaults")

    def command_failed(self, command_id: str) -> None:
        # The device keeps manual mode at its default (idle) rather than the value
        # it never took.
        for device_id, state in self._held.items():
            for action, source in list(state.sources.items()):
                if source == command_id:
                    del state.sources[action]
                    state.setpoints.pop(action, None)
                    log.info("%s: hold of %s dropped, its write failed", device_id, command_id)

    def request_channels(self) -> list[str]:
        return [address for _, _, address in self._routes]

    def status_channels(self) -> dict[str, str | None]:
        # ``manual`` while any served device is held: the dashboard shows who is in charge.
        return {"Mode": None}

    def run(self, ctx: CycleContext) -> None:
        # Work on a copy and commit at the end: if anything raises, the cycle
        # fails this run's commands and no half-taken setpoint stays held.
        held = {d: _Held(dict(s.setpoints), dict(s.sources)) for d, s in self._held.items()}
        if ctx.requests:
            for device_id, action, address in self._routes:
                request = ctx.requests.get(address)
                if request is not None:
                    self._take(ctx, held, device_id, action, request)
        for device_id, state in held.items():
            self._hold(ctx, state, device_id, self._served[device_id])
        self._held = held
        ctx.status("Mode", "manual" if held else "auto")

    # -- a new request ---------------------------------------------------
    def _take(
        self,
        ctx: CycleContext,
        held: dict[str, _Held],
        device_id: str,
        action: ActionSpec,
        request: Mapping[str, Any],
    ) -> None:
        command_id = str(request.get("command_id", ""))
        ack_address = action.ack_address(device_id)
        problem = self._check(ctx, device_id, action, request)
        if problem is not None:
            log.info(
                "command %s on %s failed: %s (%s)",
                command_id,
                device_id,
                problem.reason,
                problem.detail,
            )
            ctx.ack(Ack(ack_address, command_id, "failed", problem.reason, problem.detail))
            return
        value = request["value"]
        state = held.setdefault(device_id, _Held())
        if action.name == MODE_ACTION:
            if value == "auto":
                del held[device_id]
                detail = f"{device_id} released to automatic control"
            else:
                detail = f"{device_id} held in manual mode"
        else:
            state.setpoints[action.name] = value
            state.sources[action.name] = command_id
            unit = f" {action.value.unit}" if action.value.unit else ""
            detail = f"{action.output} = {value}{unit}, held until replaced or released"
        ctx.ack(Ack(ack_address, command_id, "executed", None, detail))

    def _check(
        self,
        ctx: CycleContext,
        device_id: str,
        action: ActionSpec,
        request: Mapping[str, Any],
    ) -> Problem | None:
        deadline = request.get("deadline")
        if deadline is not None:
            try:
                deadline_s = parse_rfc3339(str(deadline))
            except ValueError:
                return Problem(reasons.REVALIDATION_FAILED, f"unreadable deadline {deadline!r}")
            if ctx.past_deadline(deadline_s):
                return Problem(
                    reasons.EXPIRED, f"past its deadline {deadline} less the drift margin"
                )
        if request.get("action") != action.name:
            return Problem(
                reasons.REVALIDATION_FAILED,
                f"request channel of {action.name} carries action {request.get('action')!r}",
            )
        if "value" not in request:
            return Problem(reasons.REVALIDATION_FAILED, "request has no value")
        value = request["value"]
        problem = check_static(action, value)
        if problem is None and action.value.type == "number":
            limits = dynamic_limits(action, _lookup(ctx, device_id), ctx.now_s)
            problem = (
                limits if isinstance(limits, Problem) else within(limits, value, action.value.unit)
            )
        if problem is not None:
            return Problem(reasons.REVALIDATION_FAILED, f"{problem.reason}: {problem.detail}")
        return None

    # -- holding ---------------------------------------------------------
    def _hold(
        self, ctx: CycleContext, state: _Held, device_id: str, profile: DeviceProfile
    ) -> None:
        for action in profile.actions.values():
            if action.output is None:
                continue
            address = f"{device_id}/{action.output}"
            default = profile.channels[action.output].default
            value = state.setpoints.get(action.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                limits = dynamic_limits(action, _lookup(ctx, device_id), ctx.now_s)
                # Without fresh limits the only safe setpoint is the default (idle).
                if isinstance(limits, Limits):
                    _put(ctx, address, limits.clamp(value), "manual hold")
                else:
                    _put(ctx, address, default, f"manual hold, no live limits: {limits.reason}")
            else:
                _put(ctx, address, default if value is None else value, "manual mode")


def _put(ctx: CycleContext, address: str, value: Value, reason: str) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        ctx.pin(address, value, reason)
    else:
        ctx.write(address, value)


def _lookup(ctx: CycleContext, device_id: str) -> Any:
    snapshot = ctx.snapshot

    def lookup(channel: str) -> tuple[object, float] | None:
        sample = snapshot.get(f"{device_id}/{channel}")
        return None if sample is None else (sample.value, sample.ts)

    return lookup
