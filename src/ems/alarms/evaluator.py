"""Rule evaluation on telemetry ingest: samples in, the transitions they caused out.

Rules are indexed by edge and channel, so a sample of a channel that no rule
and no watch names costs one dict lookup (``evaluate_frame`` looks the edge up
once per frame). Time is the sample's own (the edge's clock): ``for_s`` is
measured between samples of one edge, unaffected by the cloud's load, and an
older sample than the last one a rule saw is ignored (a replayed frame cannot
undo a newer state).

A rule's condition must hold on every sample for ``for_s``: a sample back on
the normal side restarts the wait, so a spike shorter than ``for_s`` raises
nothing. Samples without a number (``None``, strings, booleans, NaN) change
nothing. ``<device>/CommunicationFailed`` of the devices named by
:meth:`AlarmEvaluator.watch_devices` raises and clears the
``device_communication_lost`` system alarm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from ems.alarms import machine
from ems.alarms.book import AlarmBook
from ems.alarms.errors import UNKNOWN_RULE, InvalidRule
from ems.alarms.rules import AlarmRule, check_rule_id
from ems.alarms.state import Alarm, AlarmEvent
from ems.alarms.system import COMMUNICATION_FAILED, SystemAlarmKind, rule_alarm_id

__all__ = ["AlarmEvaluator", "SampleLike"]


class SampleLike(Protocol):
    """One channel of a telemetry frame: ``ChannelSample`` of ``ems.protocol.frames`` fits."""

    @property
    def v(self) -> object: ...

    @property
    def t(self) -> datetime: ...


class _Watch(Protocol):
    def sample(self, value: object, ts_s: float) -> AlarmEvent | None: ...


class _RuleWatch:
    __slots__ = ("alarm", "last_ts_s", "pending_since_s", "rule", "rule_id")

    def __init__(self, rule_id: str, rule: AlarmRule, alarm: Alarm) -> None:
        self.rule_id = rule_id
        self.rule = rule
        self.alarm = alarm
        self.pending_since_s: float | None = None  # condition on since, not yet for_s
        self.last_ts_s = -math.inf

    def sample(self, value: object, ts_s: float) -> AlarmEvent | None:
        if isinstance(value, bool) or not isinstance(value, int | float):  # not a reading
            return None
        if not math.isfinite(value) or ts_s < self.last_ts_s:
            return None
        self.last_ts_s = ts_s
        rule = self.rule
        if self.alarm.condition:
            if rule.back_to_normal(value):
                return machine.set_condition(self.alarm, False, value, ts_s)
            return None
        if not rule.over(value):
            self.pending_since_s = None
            return None
        if self.pending_since_s is None:
            self.pending_since_s = ts_s
        if ts_s - self.pending_since_s < rule.for_s:
            return None
        self.pending_since_s = None
        return machine.set_condition(self.alarm, True, value, ts_s)


class _CommunicationWatch:
    __slots__ = ("book", "device", "edge_id")

    def __init__(self, book: AlarmBook, edge_id: str, device: str) -> None:
        self.book = book
        self.edge_id = edge_id
        self.device = device

    def sample(self, value: object, ts_s: float) -> AlarmEvent | None:
        if value is True:
            change = self.book.raise_system
        elif value is False:
            change = self.book.clear_system
        else:
            return None
        return change(
            SystemAlarmKind.DEVICE_COMMUNICATION_LOST,
            self.edge_id,
            device=self.device,
            value=value,
            at_s=ts_s,
        )


class AlarmEvaluator:
    """Holds the rules, feeds samples through them into an :class:`AlarmBook`."""

    def __init__(self, book: AlarmBook) -> None:
        self.book = book
        self._index: dict[str, dict[str, list[_Watch]]] = {}  # edge → channel → watches
        self._rules: dict[str, _RuleWatch] = {}
        self._devices: dict[str, dict[str, _CommunicationWatch]] = {}  # edge → device → watch

    # -- rules --------------------------------------------------------------------
    def rules(self) -> dict[str, AlarmRule]:
        return {rule_id: watch.rule for rule_id, watch in self._rules.items()}

    def set_rule(self, rule_id: str, rule: AlarmRule) -> list[AlarmEvent]:
        """Add a rule or replace one (``PUT``). A replacement on the same edge and channel
        keeps its alarm's state (the next sample decides); one moved elsewhere retires
        its old alarm first, and that is the event returned."""
        check_rule_id(rule_id)
        events: list[AlarmEvent] = []
        old = self._rules.get(rule_id)
        if old is not None:
            if (old.rule.edge_id, old.rule.channel) == (rule.edge_id, rule.channel):
                old.rule = rule
                old.alarm.severity = rule.severity
                old.pending_since_s = None
                return events
            events.extend(self.remove_rule(rule_id))
        alarm = self.book.rule_alarm(
            rule_alarm_id(rule.edge_id, rule_id), rule.edge_id, rule_id, rule.severity
        )
        watch = _RuleWatch(rule_id, rule, alarm)
        self._rules[rule_id] = watch
        self._add(rule.edge_id, rule.channel, watch)
        return events

    def remove_rule(self, rule_id: str) -> list[AlarmEvent]:
        """``DELETE``: the rule stops; its alarm, unless cleared, gets a last ``cleared``."""
        watch = self._rules.pop(rule_id, None)
        if watch is None:
            raise InvalidRule(UNKNOWN_RULE, f"no alarm rule {rule_id!r}", field="rule_id")
        self._remove(watch.rule.edge_id, watch.rule.channel, watch)
        event = self.book.retire(watch.alarm.alarm_id, note="rule_deleted")
        return [] if event is None else [event]

    def watch_devices(self, edge_id: str, devices: Iterable[str]) -> None:
        """Follow ``<device>/CommunicationFailed`` of these devices (the edge's inventory)."""
        wanted = set(devices)
        current = self._devices.setdefault(edge_id, {})
        for device in set(current) - wanted:
            self._remove(edge_id, f"{device}/{COMMUNICATION_FAILED}", current.pop(device))
        for device in sorted(wanted - set(current)):
            watch = current[device] = _CommunicationWatch(self.book, edge_id, device)
            self._add(edge_id, f"{device}/{COMMUNICATION_FAILED}", watch)
        if not current:
            del self._devices[edge_id]

    def _add(self, edge_id: str, channel: str, watch: _Watch) -> None:
        self._index.setdefault(edge_id, {}).setdefault(channel, []).append(watch)

    def _remove(self, edge_id: str, channel: str, watch: _Watch) -> None:
        channels = self._index[edge_id]
        watches = channels[channel]
        watches.remove(watch)
        if not watches:
            del channels[channel]
            if not channels:
                del self._index[edge_id]

    # -- samples ------------------------------------------------------------------
    def evaluate(self, edge_id: str, channel: str, value: object, ts_s: float) -> list[AlarmEvent]:
        """One sample (``ts_s``: its UTC epoch seconds); the transitions it caused."""
        channels = self._index.get(edge_id)
        if channels is None:
            return []
        watches = channels.get(channel)
        if watches is None:
            return []
        return [e for w in watches if (e := w.sample(value, ts_s)) is not None]

    def evaluate_frame(self, edge_id: str, channels: Mapping[str, SampleLike]) -> list[AlarmEvent]:
        """Every channel of one telemetry frame of ``edge_id``; the transitions caused."""
        events: list[AlarmEvent] = []
        index = self._index.get(edge_id)
        if index is None:
            return events
        get = index.get
        for channel, sample in channels.items():
            watches = get(channel)
            if watches is None:
                continue
            ts_s = sample.t.timestamp()
            for watch in watches:
                event = watch.sample(sample.v, ts_s)
                if event is not None:
                    events.append(event)
        return events
