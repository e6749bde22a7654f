"""Who is told about an alarm, and what the e-mail says.

Recipients are the users of the role (operators first, admins on escalation)
granted the alarm's edge, with an e-mail address: asked of a
:data:`Directory` (the auth service's users in the cloud, a table in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ems.alarms import Alarm
from ems.cloud.alarms.outbox import Mail, Outbox
from ems.timefmt import to_rfc3339

__all__ = ["Directory", "MailNotifier", "compose"]

log = logging.getLogger(__name__)

#: ``(edge_id, role) -> addresses`` of the users of that role granted the edge.
Directory = Callable[[str, str], Awaitable[list[str]]]


def compose(alarm: Alarm, role: str, level: int, held_back: int) -> tuple[str, str]:
    """The subject and body of a notification about ``alarm`` for ``role``."""
    escalated = f" (escalated to {role})" if level > 0 else ""
    subject = (
        f"[EMS] {alarm.severity.value.upper()} alarm {alarm.rule} on {alarm.edge_id}: "
        f"{alarm.state.value}{escalated}"
    )
    lines = [
        f"Alarm:    {alarm.alarm_id}",
        f"Edge:     {alarm.edge_id}",
        f"Rule:     {alarm.rule}",
        f"Severity: {alarm.severity.value}",
        f"State:    {alarm.state.value}",
        f"Value:    {alarm.value}",
        f"Since:    {'-' if alarm.since_s is None else to_rfc3339(alarm.since_s)}",
    ]
    if level > 0:
        lines.append(f"Not acknowledged in time: escalated to the {role}s (level {level}).")
    if held_back:
        lines.append(f"{held_back} earlier notifications of this alarm were held back (flapping).")
    lines.append(f"Acknowledge: POST /api/alarms/{alarm.alarm_id}/ack")
    return subject, "\n".join(lines) + "\n"


class MailNotifier:
    def __init__(self, directory: Directory, outbox: Outbox) -> None:
        self._directory = directory
        self._outbox = outbox

    async def __call__(self, alarm: Alarm, role: str, level: int, held_back: int) -> None:
        to = await self._directory(alarm.edge_id, role)
        if not to:
            log.warning(
                "alarm %s: no %s with an e-mail address for %s; nobody mailed",
                alarm.alarm_id,
                role,
                alarm.edge_id,
            )
            return
        subject, body = compose(alarm, role, level, held_back)
        await self._outbox.put(Mail(sorted(to), subject, body))
