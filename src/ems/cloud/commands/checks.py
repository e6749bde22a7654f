"""DESIGN section 4's checks of a command, in their order, as small functions.

schema (the frame decoder, before any of these) → :func:`check_role` →
:func:`check_grant` → rate limit, replay and freshness
(:class:`~ems.ratelimit.CommandGuard`, in Redis) → :func:`check_static` (the
edge's inventory and the device profile's fixed range) →
:func:`check_dynamic` (the edge's latest telemetry). The first failure is the
``rejected`` reason. Each returns a :class:`~ems.profiles.Problem` or passes.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

from ems.cloud.commands.controller_settings import check_settings
from ems.cloud.commands.ports import Latest
from ems.profiles import ActionSpec, DeviceProfile, Problem, dynamic_limits, within
from ems.profiles import check_static as check_range
from ems.protocol import SET_CONTROLLER, ControllerRef, DeviceRef, UiCommand, reasons

__all__ = [
    "COMMAND_ROLES",
    "bounding_channel_names",
    "bounding_channels",
    "check_dynamic",
    "check_grant",
    "check_role",
    "check_static",
]

COMMAND_ROLES = frozenset({"operator", "admin"})


def check_role(role: str) -> Problem | None:
    if role not in COMMAND_ROLES:
        return Problem(reasons.FORBIDDEN, f"role {role!r} may not send commands")
    return None


def check_grant(edge_id: str, edges: Container[str] | None) -> Problem | None:
    """``edges``: what the user's token grants (``None``: every edge). Checked before
    any lookup of the edge: the same answer whether it exists or not."""
    if edges is not None and edge_id not in edges:
        return Problem(reasons.FORBIDDEN, f"no access to edge {edge_id}")
    return None


def check_static(
    cmd: UiCommand,
    devices: Sequence[DeviceRef] | None,
    controllers: Sequence[ControllerRef],
    profiles: Mapping[str, DeviceProfile],
) -> ActionSpec | Problem | None:
    """Edge, device, action and the profile's fixed range, in that order, against
    the edge's last inventory (``devices``: None when it never reported one).

    Returns the action's spec when it passed, ``None`` for a ``set_controller``
    that passed (it has no dynamic limits)."""
    if devices is None:
        return Problem(reasons.UNKNOWN_EDGE, f"no edge {cmd.edge_id!r} has reported its devices")
    if cmd.action == SET_CONTROLLER:
        return check_settings(cmd.edge_id, controllers, cmd.device, cmd.value)
    ref = next((d for d in devices if d.id == cmd.device), None)
    if ref is None:
        return Problem(reasons.UNKNOWN_DEVICE, f"{cmd.edge_id} has no device {cmd.device!r}")
    profile = profiles.get(ref.profile)
    if profile is None:
        return Problem(
            reasons.UNKNOWN_DEVICE, f"{cmd.device} has an unknown profile {ref.profile!r}"
        )
    action = profile.actions.get(cmd.action)
    if action is None:
        known = ", ".join(profile.actions) or "none"
        return Problem(
            reasons.UNKNOWN_ACTION, f"{profile.type} has no action {cmd.action!r} ({known})"
        )
    problem = check_range(action, cmd.value)
    return action if problem is None else problem


def bounding_channels(device: str, action: ActionSpec | None) -> list[str]:
    """The addresses whose latest values bound ``action`` on ``device`` (may be none)."""
    if action is None or action.dynamic_limits is None:
        return []
    bounds = (action.dynamic_limits.min, action.dynamic_limits.max)
    return [f"{device}/{b.channel}" for b in bounds if b is not None]


def bounding_channel_names(profiles: Mapping[str, DeviceProfile]) -> frozenset[str]:
    """The channel names (``MaxChargePower``) that bound some action of ``profiles``:
    the only latest values :func:`check_dynamic` ever looks up."""
    names: set[str] = set()
    for profile in profiles.values():
        for action in profile.actions.values():
            if action.dynamic_limits is not None:
                bounds = (action.dynamic_limits.min, action.dynamic_limits.max)
                names.update(b.channel for b in bounds if b is not None)
    return frozenset(names)


def check_dynamic(
    cmd: UiCommand, action: ActionSpec | None, latest: Latest, now_s: float
) -> Problem | None:
    """The value against the limits the edge reports now (stale or missing ones refuse)."""
    if action is None or action.dynamic_limits is None:
        return None
    prefix = f"{cmd.device}/"

    def lookup(channel: str) -> tuple[object, float] | None:
        return latest.get(prefix + channel)

    limits = dynamic_limits(action, lookup, now_s)
    if isinstance(limits, Problem):
        return limits
    if isinstance(cmd.value, int | float) and not isinstance(cmd.value, bool):
        return within(limits, cmd.value, action.value.unit)
    return None
