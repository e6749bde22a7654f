"""Writes operator commands into request channels: the edge's only way in for commands.

Used by the edge dispatcher for commands from the cloud and by ``ems simulate``
for scripted ones, so both take exactly the same path. A request is a small
mapping ``{command_id, action, value, issued_at, deadline, user}`` in
``ui_requests/<device>_<what>``; a request still pending when a newer one
arrives on the same channel ends ``failed(superseded)``. A ``set_controller``
command names a controller instead of a device and goes to
``ui_requests/<controller id>_settings`` (:mod:`ems.edge.controller_settings`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.dal import ChannelStore
from ems.edge.clocksync import ClockSync
from ems.edge.context import Ack
from ems.edge.controller_settings import settings_ack_address, settings_request_address
from ems.edge.controllers.base import Controller
from ems.profiles import DeviceProfile
from ems.protocol import SET_CONTROLLER, UNKNOWN_CONTROLLER, reasons
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["CommandRequest", "RequestWriter", "Verdict"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    command_id: str
    device: str
    action: str
    value: float | int | str | bool | Mapping[str, float | int | bool]  # a mapping: set_controller
    issued_at: str  # RFC 3339
    deadline: str | None = None  # RFC 3339; after it (less the margin) nothing is applied
    user: str | None = None

    def as_request(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "action": self.action,
            "value": self.value,
            "issued_at": self.issued_at,
            "deadline": self.deadline,
            "user": self.user,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """``delivered`` (the request channel holds it) or a failure with a reason code."""

    status: str  # "delivered" | "rejected" | "failed"
    reason: str | None = None
    detail: str | None = None
    request_address: str | None = None


class RequestWriter:
    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        devices: Mapping[str, DeviceProfile],
        deadline_margin_s: float,
        *,
        audit: AuditTrail | None = None,
        clock_sync: ClockSync | None = None,
        controllers: Sequence[Controller] = (),
    ) -> None:
        """``controllers``: the ones ``set_controller`` may address (those with settable
        parameters; the cycle checks the parameters themselves)."""
        self._store = store
        self._settable = {c.id: c for c in controllers if c.settable_params}
        self._clock = clock
        self._devices = devices
        self._margin_s = deadline_margin_s
        self._audit = audit or AuditTrail("edge")
        # The cloud's deadline is in the cloud's time: converted with the measured offset.
        self._sync = clock_sync or ClockSync()
        #: Asked last, right before a valid command is written to its channel: a Verdict
        #: refuses it (an HA edge that is not in control, or could not replicate that it
        #: took the command); None lets it through. None: every valid command goes in.
        self.admit: Callable[[CommandRequest], Verdict | None] | None = None

    def replace_controllers(self, controllers: Sequence[Controller]) -> None:
        """The controllers ``set_controller`` may address from now on (a pushed config)."""
        self._settable = {c.id: c for c in controllers if c.settable_params}

    def replace_devices(self, devices: Mapping[str, DeviceProfile]) -> list[str]:
        """Route to ``devices`` from now on (a pushed config; on the cycle's thread).

        A request pending for a device that is gone, or replaced by another profile,
        is failed (``device_removed``), not left to time out: returns their ids."""
        old = self._devices
        gone = [d for d in old if devices.get(d) != old[d]]
        withdrawn = self._withdraw(
            [
                (action.request_address(d), action.ack_address(d))
                for d in gone
                for action in old[d].actions.values()
            ],
            reasons.DEVICE_REMOVED,
            "a pushed config removed or replaced this device",
        )
        self._devices = devices
        return withdrawn

    def submit(self, command: CommandRequest) -> Verdict:
        """Validate lightly (device, action, deadline) and write the request channel."""
        verdict = self._submit(command)
        if verdict.status != "delivered":
            self._audit.record(
                "edge.request_refused",
                command.command_id,
                self._clock.time(),
                user=command.user,
                status=verdict.status,
                reason=verdict.reason,
                detail=verdict.detail,
            )
        return verdict

    def _submit(self, command: CommandRequest) -> Verdict:
        routed = self._route(command)
        if isinstance(routed, Verdict):
            return routed
        address, ack_address = routed
        if command.deadline is not None:
            try:
                deadline_s = parse_rfc3339(command.deadline)
            except ValueError as exc:
                return Verdict("rejected", reasons.INVALID_PAYLOAD, str(exc))
            if self._sync.past_deadline(self._clock.time(), deadline_s, self._margin_s):
                return Verdict(
                    "failed",
                    reasons.EXPIRED,
                    f"arrived after its deadline {command.deadline} less the drift margin",
                )
        if self.admit is not None and (refused := self.admit(command)) is not None:
            return refused
        now_s = self._clock.time()
        old = self._store.swap(address, command.as_request(), ts=now_s)
        if old is not None and isinstance(old.value, Mapping):
            old_id = str(old.value.get("command_id"))
            if old_id != command.command_id:
                self._fail(
                    ack_address,
                    old_id,
                    reasons.SUPERSEDED,
                    f"replaced by {command.command_id} before a cycle consumed it",
                    now_s,
                )
                log.info("command %s superseded by %s", old_id, command.command_id)
        self._audit.record(
            "edge.request_written",
            command.command_id,
            now_s,
            user=command.user,
            status="delivered",
            detail=f"{address} = {command.value!r}",
            device=command.device,
            action=command.action,
            value=command.value,
            channel=address,
        )
        return Verdict("delivered", request_address=address)

    def _route(self, command: CommandRequest) -> tuple[str, str] | Verdict:
        """The command's request and ack channels, or why it has none."""
        if command.action == SET_CONTROLLER:
            controller = self._settable.get(command.device)
            if controller is None:
                known = ", ".join(self._settable) or "none"
                return Verdict(
                    "rejected",
                    UNKNOWN_CONTROLLER,
                    f"no controller {command.device!r} with settable parameters (known: {known})",
                )
            if not isinstance(command.value, Mapping) or not command.value:
                return Verdict(
                    "rejected",
                    reasons.INVALID_PAYLOAD,
                    "set_controller takes an object of parameters",
                )
            return (
                settings_request_address(controller.id),
                settings_ack_address(controller.id),
            )
        if isinstance(command.value, Mapping):
            return Verdict(
                "rejected", reasons.INVALID_PAYLOAD, f"{command.action} takes a single value"
            )
        profile = self._devices.get(command.device)
        if profile is None:
            return Verdict(
                "rejected", reasons.UNKNOWN_DEVICE, f"no device {command.device!r} on this edge"
            )
        action = profile.actions.get(command.action)
        if action is None:
            known = ", ".join(profile.actions) or "none"
            return Verdict(
                "rejected",
                reasons.UNKNOWN_ACTION,
                f"{profile.type} {command.device!r} has no action {command.action!r} "
                f"(known: {known})",
            )
        return action.request_address(command.device), action.ack_address(command.device)

    def withdraw_all(self, reason: str, detail: str) -> list[str]:
        """Take every pending request off its channel and fail it with ``reason``.

        For the cloud link when its connection is lost: a command not yet applied
        is not applied while its final status cannot be reported, since the
        cloud's watchdog would report it failed meanwhile (DESIGN section 4: a
        command the operator saw fail is never carried out). Call it on the
        thread that runs the cycle, so no cycle takes a request halfway.
        Returns the command ids withdrawn.
        """
        channels = [
            (action.request_address(device_id), action.ack_address(device_id))
            for device_id, profile in self._devices.items()
            for action in profile.actions.values()
        ] + [(settings_request_address(c), settings_ack_address(c)) for c in self._settable]
        return self._withdraw(channels, reason, detail)

    def _withdraw(self, channels: Sequence[tuple[str, str]], reason: str, detail: str) -> list[str]:
        now_s = self._clock.time()
        withdrawn = []
        for request_address, ack_address in channels:
            old = self._store.swap(request_address, None, ts=now_s)
            if old is None or not isinstance(old.value, Mapping):
                continue
            command_id = str(old.value.get("command_id"))
            self._fail(ack_address, command_id, reason, detail, now_s)
            withdrawn.append(command_id)
        if withdrawn:
            log.warning("withdrew %d pending command(s): %s", len(withdrawn), detail)
        return withdrawn

    def _fail(
        self, ack_address: str, command_id: str, reason: str, detail: str, now_s: float
    ) -> None:
        ack = Ack(ack_address, command_id, "failed", reason, detail)
        self._store.set_channel(ack.address, ack.value(to_rfc3339(now_s)), ts=now_s)
