"""Alarms (DESIGN 14): rules, the ISA-18.2 state machine, evaluation on ingest.

Pure and clock-injected, no I/O: the cloud feeds it telemetry and commands and
stores, publishes and mails the :class:`AlarmEvent` s it gets back.

- :mod:`~ems.alarms.rules`: :class:`AlarmRule`, :func:`parse_rule` (refuses naming the field)
- :mod:`~ems.alarms.state`, :mod:`~ems.alarms.machine`: states, records, transitions
- :mod:`~ems.alarms.book`: :class:`AlarmBook`, the alarms and their commands
- :mod:`~ems.alarms.evaluator`: :class:`AlarmEvaluator`, samples → transitions
- :mod:`~ems.alarms.system`: rule-less system alarms and alarm ids
- :mod:`~ems.alarms.escalation`: when an unacknowledged alarm goes to the next role
- :mod:`~ems.alarms.notify_limit`: rate limiting notifications of flapping alarms
- :mod:`~ems.alarms.errors`: the error tree and its stable reason codes
"""

from ems.alarms.book import DEFAULT_MAX_SHELVE_S, AlarmBook
from ems.alarms.errors import AlarmCommandRefused, AlarmError, InvalidRule
from ems.alarms.escalation import Escalation, EscalationPolicy, escalations_due
from ems.alarms.evaluator import AlarmEvaluator, SampleLike
from ems.alarms.notify_limit import DEFAULT_RATE, NotificationLimiter, NotifyDecision
from ems.alarms.rules import AlarmRule, Severity, parse_rule
from ems.alarms.state import SYSTEM_USER, Alarm, AlarmEvent, AlarmState
from ems.alarms.system import SystemAlarmKind, rule_alarm_id, system_alarm_id

__all__ = [
    "DEFAULT_MAX_SHELVE_S",
    "DEFAULT_RATE",
    "SYSTEM_USER",
    "Alarm",
    "AlarmBook",
    "AlarmCommandRefused",
    "AlarmError",
    "AlarmEvaluator",
    "AlarmEvent",
    "AlarmRule",
    "AlarmState",
    "Escalation",
    "EscalationPolicy",
    "InvalidRule",
    "NotificationLimiter",
    "NotifyDecision",
    "SampleLike",
    "Severity",
    "SystemAlarmKind",
    "escalations_due",
    "parse_rule",
    "rule_alarm_id",
    "system_alarm_id",
]
