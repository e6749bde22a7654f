"""The alarms of a set of edges, and the operator's and the system's commands on them.

Every method returns the events it caused (an empty list or ``None``: none);
the caller stores them (the audit of who did what when) and fans them out as
``alarm`` frames. Commands are stamped with the injected clock's wall time;
condition changes with the sample's own time (see :mod:`ems.alarms.evaluator`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ems.alarms import machine
from ems.alarms.errors import ALARM_NOT_FOUND, AlarmCommandRefused
from ems.alarms.rules import Severity
from ems.alarms.state import Alarm, AlarmEvent, AlarmState
from ems.alarms.system import DEFAULT_SEVERITY, SystemAlarmKind, system_alarm_id
from ems.clock import Clock

__all__ = ["DEFAULT_MAX_SHELVE_S", "AlarmBook"]

#: A week: shelving is for a known nuisance during work on site, not a way to delete
#: an alarm (ISA-18.2 wants shelving time-limited) [s].
DEFAULT_MAX_SHELVE_S = 7 * 86_400.0


class AlarmBook:
    def __init__(self, clock: Clock, max_shelve_s: float = DEFAULT_MAX_SHELVE_S) -> None:
        if not max_shelve_s > 0:
            raise ValueError(f"max_shelve_s must be positive, not {max_shelve_s!r}")
        self._clock = clock
        self._max_shelve_s = max_shelve_s
        self._alarms: dict[str, Alarm] = {}
        self._shelved: set[str] = set()  # ids, so that expiry looks at these only

    # -- reading ------------------------------------------------------------------
    def get(self, alarm_id: str) -> Alarm:
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise AlarmCommandRefused(ALARM_NOT_FOUND, f"no alarm {alarm_id!r}", field="alarm_id")
        return alarm

    def find(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def alarms(
        self, edge_id: str | None = None, state: AlarmState | None = None
    ) -> Iterator[Alarm]:
        """``GET /api/alarms?edge_id=&state=``: every alarm, or those of one edge and/or state."""
        for alarm in self._alarms.values():
            if (edge_id is None or alarm.edge_id == edge_id) and (
                state is None or alarm.state is state
            ):
                yield alarm

    def restore(self, alarm: Alarm) -> None:
        """Take an alarm as stored (a process starting, an edge moving here) before the
        rules are set, so that a condition still on is not raised a second time."""
        self._alarms[alarm.alarm_id] = alarm
        if alarm.state is AlarmState.SHELVED:
            self._shelved.add(alarm.alarm_id)
        else:
            self._shelved.discard(alarm.alarm_id)

    # -- operator commands --------------------------------------------------------
    def acknowledge(self, alarm_id: str, user: str) -> AlarmEvent:
        return machine.acknowledge(self.get(alarm_id), user, self._clock.time())

    def shelve(self, alarm_id: str, user: str, until_s: float, reason: str) -> AlarmEvent:
        alarm = self.get(alarm_id)
        event = machine.shelve(alarm, user, until_s, reason, self._clock.time(), self._max_shelve_s)
        self._shelved.add(alarm_id)
        return event

    def unshelve(self, alarm_id: str, user: str) -> AlarmEvent:
        event = machine.unshelve(self.get(alarm_id), user, self._clock.time())
        self._shelved.discard(alarm_id)
        return event

    def expire_shelves(self) -> list[AlarmEvent]:
        """Unshelve every alarm whose time has come; call it on a timer (every few s)."""
        now_s = self._clock.time()
        events: list[AlarmEvent] = []
        for alarm_id in sorted(self._shelved):
            event = machine.expire_shelve(self._alarms[alarm_id], now_s)
            if event is not None:
                self._shelved.discard(alarm_id)
                events.append(event)
        return events

    # -- system alarms ------------------------------------------------------------
    def raise_system(
        self,
        kind: SystemAlarmKind,
        edge_id: str,
        *,
        device: str | None = None,
        value: float | bool | None = None,
        at_s: float | None = None,
    ) -> AlarmEvent | None:
        """The condition of a system alarm holds (``at_s``: when; default now)."""
        alarm_id = system_alarm_id(kind, edge_id, device)
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            alarm = self._alarms[alarm_id] = Alarm(
                alarm_id, edge_id, kind.value, DEFAULT_SEVERITY[kind]
            )
        return machine.set_condition(
            alarm, True, value, self._clock.time() if at_s is None else at_s
        )

    def clear_system(
        self,
        kind: SystemAlarmKind,
        edge_id: str,
        *,
        device: str | None = None,
        value: float | bool | None = None,
        at_s: float | None = None,
    ) -> AlarmEvent | None:
        """The condition is gone; clearing one never raised is no error (and no event)."""
        alarm = self._alarms.get(system_alarm_id(kind, edge_id, device))
        if alarm is None:
            return None
        return machine.set_condition(
            alarm, False, value, self._clock.time() if at_s is None else at_s
        )

    # -- for the evaluator ----------------------------------------------------------
    def rule_alarm(self, alarm_id: str, edge_id: str, rule_id: str, severity: Severity) -> Alarm:
        """The alarm of a rule, created (``cleared``) on first use; keeps its state if known."""
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            alarm = self._alarms[alarm_id] = Alarm(alarm_id, edge_id, rule_id, severity)
        alarm.severity = severity
        return alarm

    def retire(self, alarm_id: str, note: str) -> AlarmEvent | None:
        """Forget an alarm whose rule is gone, with a last ``cleared`` event if it was not."""
        alarm = self._alarms.pop(alarm_id, None)
        if alarm is None:
            return None
        self._shelved.discard(alarm_id)
        return machine.retire(alarm, self._clock.time(), note)
