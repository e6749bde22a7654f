"""Command dispatch: validate an operator's command, route it, track it to one final status.

The checks run in the order of DESIGN section 4 and the first failure is the
``rejected`` reason. A command sent to an edge carries a ``deadline``; if no
final status arrives by then the watchdog fails it with ``edge_timeout``, and
the edge itself refuses to apply it after that moment, so what the operator
saw fail is never carried out later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ems.cloud.hub import Hub
from ems.profiles import DeviceProfile, Problem, check_static, dynamic_limits, within
from ems.protocol import CloudToEdgeCommand, EdgeAck, UiAck, UiCommand

__all__ = ["Dispatcher", "Tracked"]

log = logging.getLogger(__name__)
audit = logging.getLogger("ems.audit")

TERMINAL = frozenset({"rejected", "executed", "failed"})
COMMAND_ROLES = frozenset({"operator", "admin"})
_REMEMBER = 100_000  # finished commands kept for replay checks and late acks


@dataclass(eq=False)
class Tracked:
    command_id: str
    username: str
    edge_id: str
    device: str
    action: str
    value: object
    status: str
    history: list[tuple[str, str | None, float]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class Dispatcher:
    def __init__(
        self, hub: Hub, profiles: Mapping[str, DeviceProfile], watchdog_s: float = 5.0
    ) -> None:
        self._hub = hub
        self._profiles = profiles
        self._watchdog_s = watchdog_s
        self.commands: OrderedDict[str, Tracked] = OrderedDict()

    # -- from a dashboard --------------------------------------------------
    def submit(self, username: str, role: str, cmd: UiCommand) -> UiAck:
        """Validate and route. The immediate ack (``received`` or ``rejected``) goes to
        every socket of the user, like every later ack; it is also returned."""
        now = time.time()
        self._audit("cloud.received", cmd.command_id, username, cmd.edge_id, "received", None)
        if cmd.command_id in self.commands:
            # Not tracked as a new command: the original keeps its own status.
            return self._ack(
                username, cmd, "rejected", "replay", "command_id was already used", now
            )
        tracked = Tracked(
            cmd.command_id, username, cmd.edge_id, cmd.device, cmd.action, cmd.value, "new"
        )
        self._remember(tracked)
        problem = self._validate(role, cmd, now)
        if problem is not None:
            reason, detail = problem
            return self._finish(tracked, "rejected", reason, detail, now)
        session = self._hub.edges.get(cmd.edge_id)
        if session is None:
            return self._finish(
                tracked, "rejected", "edge_offline", f"{cmd.edge_id} is not connected", now
            )
        deadline = datetime.fromtimestamp(now, UTC) + timedelta(seconds=self._watchdog_s)
        session.peer.send(
            CloudToEdgeCommand(
                command_id=cmd.command_id,
                device=cmd.device,
                action=cmd.action,
                value=cmd.value,
                issued_at=cmd.issued_at,
                deadline=deadline,
                user=username,
            )
        )
        tracked.timer = asyncio.get_running_loop().call_later(
            self._watchdog_s, self._timeout, cmd.command_id
        )
        self._audit("cloud.sent", cmd.command_id, username, cmd.edge_id, "received", None)
        return self._set(tracked, "received", None, f"sent to {cmd.edge_id}", now)

    def _validate(self, role: str, cmd: UiCommand, now: float) -> tuple[str, str] | None:
        if role not in COMMAND_ROLES:
            return "forbidden", f"role {role!r} may not send commands"
        devices = self._hub.inventory.get(cmd.edge_id)
        if devices is None:
            return "unknown_edge", f"no edge {cmd.edge_id!r} has reported its devices"
        ref = next((d for d in devices if d.id == cmd.device), None)
        if ref is None:
            return "unknown_device", f"{cmd.edge_id} has no device {cmd.device!r}"
        profile = self._profiles.get(ref.profile)
        if profile is None:
            return "unknown_device", f"{cmd.device} has an unknown profile {ref.profile!r}"
        action = profile.actions.get(cmd.action)
        if action is None:
            known = ", ".join(profile.actions) or "none"
            return "unknown_action", f"{profile.type} has no action {cmd.action!r} ({known})"
        problem = check_static(action, cmd.value)
        if problem is not None:
            return problem.reason, problem.detail
        if self._hub.online(cmd.edge_id) and action.dynamic_limits is not None:
            # The edge will execute it within a cycle: judge it by what it reports now.
            latest = self._hub.latest.get(cmd.edge_id, {})
            prefix = f"{cmd.device}/"

            def lookup(channel: str) -> tuple[object, float] | None:
                return latest.get(prefix + channel)

            limits = dynamic_limits(action, lookup, now)
            if isinstance(limits, Problem):
                return limits.reason, limits.detail
            if isinstance(cmd.value, int | float) and not isinstance(cmd.value, bool):
                beyond = within(limits, cmd.value, action.value.unit)
                if beyond is not None:
                    return beyond.reason, beyond.detail
        return None

    # -- from an edge ------------------------------------------------------
    def on_edge_ack(self, edge_id: str, ack: EdgeAck) -> None:
        tracked = self.commands.get(ack.command_id)
        now = time.time()
        if tracked is None or tracked.edge_id != edge_id:
            self._audit("cloud.ack_unknown", ack.command_id, None, edge_id, ack.status, ack.reason)
            return
        if tracked.terminal:
            # E.g. executed after the watchdog already failed it: audit only.
            self._audit(
                "cloud.late_ack", ack.command_id, tracked.username, edge_id, ack.status, ack.reason
            )
            return
        if ack.status in TERMINAL:
            self._finish(tracked, ack.status, ack.reason, ack.detail, now)
        else:
            self._set(tracked, ack.status, ack.reason, ack.detail, now)

    def _timeout(self, command_id: str) -> None:
        tracked = self.commands.get(command_id)
        if tracked is None or tracked.terminal:
            return
        self._finish(
            tracked,
            "failed",
            "edge_timeout",
            f"no final status from {tracked.edge_id} within {self._watchdog_s:g} s",
            time.time(),
        )

    # -- bookkeeping -------------------------------------------------------
    def _finish(
        self, tracked: Tracked, status: str, reason: str | None, detail: str | None, now: float
    ) -> UiAck:
        if tracked.timer is not None:
            tracked.timer.cancel()
            tracked.timer = None
        return self._set(tracked, status, reason, detail, now)

    def _set(
        self, tracked: Tracked, status: str, reason: str | None, detail: str | None, now: float
    ) -> UiAck:
        tracked.status = status
        tracked.history.append((status, reason, now))
        ack = UiAck(
            command_id=tracked.command_id,
            edge_id=tracked.edge_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(now, UTC),
        )
        self._audit(
            "cloud.acked", tracked.command_id, tracked.username, tracked.edge_id, status, reason
        )
        for ui in self._hub.users.get(tracked.username, ()):
            ui.peer.send(ack)
        return ack

    def _ack(
        self, username: str, cmd: UiCommand, status: str, reason: str, detail: str, now: float
    ) -> UiAck:
        """An ack about a frame that is not a tracked command (e.g. a replay)."""
        ack = UiAck(
            command_id=cmd.command_id,
            edge_id=cmd.edge_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(now, UTC),
        )
        self._audit("cloud.acked", cmd.command_id, username, cmd.edge_id, status, reason)
        for ui in self._hub.users.get(username, ()):
            ui.peer.send(ack)
        return ack

    def _remember(self, tracked: Tracked) -> None:
        self.commands[tracked.command_id] = tracked
        while len(self.commands) > _REMEMBER:
            _, old = self.commands.popitem(last=False)
            if old.timer is not None:
                old.timer.cancel()

    @staticmethod
    def _audit(
        event: str,
        command_id: str,
        user: str | None,
        edge_id: str,
        status: str,
        reason: str | None,
    ) -> None:
        audit.info(
            "command %s %s",
            command_id,
            event,
            extra={
                "event_type": event,
                "command_id": command_id,
                "user": user,
                "edge_id": edge_id,
                "status": status,
                "reason": reason,
            },
        )
