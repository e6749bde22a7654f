"""Rule evaluation on telemetry ingest: samples in, the transitions they caused out.

Rules are indexed by edge and channel, so a sample of a channel that no rule
and no watch names costs at most one dict lookup (``evaluate_frame`` looks the
edge up once per frame, then walks the smaller of the frame and the edge's
watched channels), and a watched sample that cannot change anything stops at
one comparison (the channel's quiet band). Time is the sample's own (the
edge's clock): ``for_s`` is measured between samples of one edge, unaffected
by the cloud's load, and a sample older than the last one a rule acted on is
ignored (a replayed frame cannot undo a newer state; feed live frames only).

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
from ems.alarms.system import (
    COMMUNICATION_FAILED,
    SystemAlarmKind,
    rule_alarm_id,
    system_alarm_id,
)

__all__ = ["AlarmEvaluator", "SampleLike"]


class SampleLike(Protocol):
    """One channel of a telemetry frame: ``ChannelSample`` of ``ems.protocol.frames`` fits."""

    @property
    def v(self) -> object: ...

    @property
    def t(self) -> datetime: ...


class _Watch(Protocol):
    def band(self) -> tuple[float, float]:
        """Numbers in ``[lo, hi]`` change nothing now (an empty band: every number might)."""
        ...

    def loud(self) -> bool | None:
        """The boolean that would change something now (``None``: no boolean would)."""
        ...

    def sample(self, value: object, ts_s: float) -> AlarmEvent | None: ...


_ALL = (-math.inf, math.inf)
_NONE = (math.inf, -math.inf)


class _RuleWatch:
    __slots__ = (
        "alarm",
        "last_ts_s",
        "pending_since_s",
        "rule",
        "rule_id",
    )

    def __init__(self, rule_id: str, rule: AlarmRule, alarm: Alarm) -> None:
        self.rule_id = rule_id
        self.alarm = alarm
        self.last_ts_s = -math.inf
        self.use(rule)

    def use(self, rule: AlarmRule) -> None:
        self.rule = rule
        self.pending_since_s: float | None = None  # condition on since, not yet for_s

    def band(self) -> tuple[float, float]:
        if self.alarm.condition or self.pending_since_s is not None:
            return _NONE  # every sample counts: to clear, or to keep waiting for for_s
        threshold = float(self.rule.threshold)
        return (-math.inf, threshold) if self.rule.operator == ">" else (threshold, math.inf)

    def loud(self) -> bool | None:
        return None  # a boolean is no reading

    def sample(self, value: object, ts_s: float) -> AlarmEvent | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
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
    """Owns the condition of one device's ``device_communication_lost`` alarm."""

    __slots__ = ("book", "device", "edge_id", "failed")

    def __init__(self, book: AlarmBook, edge_id: str, device: str) -> None:
        self.book = book
        self.edge_id = edge_id
        self.device = device
        # A restored alarm still on must be cleared by the next ``false``.
        alarm = book.find(
            system_alarm_id(SystemAlarmKind.DEVICE_COMMUNICATION_LOST, edge_id, device)
        )
        self.failed = alarm is not None and alarm.condition

    def band(self) -> tuple[float, float]:
        return _ALL

    def loud(self) -> bool | None:
        return not self.failed

    def sample(self, value: object, ts_s: float) -> AlarmEvent | None:
        if value is True:
            change = self.book.raise_system
        elif value is False:
            change = self.book.clear_system
        else:
            return None
        self.failed = value
        return change(
            SystemAlarmKind.DEVICE_COMMUNICATION_LOST,
            self.edge_id,
            device=self.device,
            value=value,
            at_s=ts_s,
        )


class _Channel:
    """The watches of one edge's channel, and which samples can change nothing.

    ``lo``/``hi`` and ``loud`` are recomputed whenever a sample got through (and when
    a watch is added, removed or changed), so most samples stop at one comparison.
    """

    __slots__ = ("hi", "lo", "loud", "watches")

    def __init__(self) -> None:
        self.watches: list[_Watch] = []
        self.refresh()

    def refresh(self) -> None:
        lo, hi = _ALL
        loud: bool | None = None
        for watch in self.watches:
            w_lo, w_hi = watch.band()
            lo, hi = max(lo, w_lo), min(hi, w_hi)
            w_loud = watch.loud()
            if w_loud is not None:
                loud = w_loud  # one device per CommunicationFailed channel: one loud value
        self.lo, self.hi, self.loud = lo, hi, loud

    def quiet(self, value: object) -> bool:
        if type(value) is float or type(value) is int:
            return self.lo <= value <= self.hi
        return value is not self.loud  # None and strings: no watch reads them

    def feed(self, value: object, ts_s: float, events: list[AlarmEvent]) -> None:
        for watch in self.watches:
            event = watch.sample(value, ts_s)
            if event is not None:
                events.append(event)
        self.refresh()


class AlarmEvaluator:
    """Holds the rules, feeds samples through them into an :class:`AlarmBook`."""

    def __init__(self, book: AlarmBook) -> None:
        self.book = book
        self._index: dict[str, dict[str, _Channel]] = {}  # edge → channel → its watches
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
                old.use(rule)
                old.alarm.severity = rule.severity
                self._index[rule.edge_id][rule.channel].refresh()
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
        entry = self._index.setdefault(edge_id, {}).setdefault(channel, _Channel())
        entry.watches.append(watch)
        entry.refresh()

    def _remove(self, edge_id: str, channel: str, watch: _Watch) -> None:
        channels = self._index[edge_id]
        entry = channels[channel]
        entry.watches.remove(watch)
        entry.refresh()
        if not entry.watches:
            del channels[channel]
            if not channels:
                del self._index[edge_id]

    # -- samples ------------------------------------------------------------------
    def evaluate(self, edge_id: str, channel: str, value: object, ts_s: float) -> list[AlarmEvent]:
        """One sample (``ts_s``: its UTC epoch seconds); the transitions it caused."""
        events: list[AlarmEvent] = []
        channels = self._index.get(edge_id)
        if channels is None:
            return events
        entry = channels.get(channel)
        if entry is not None and not entry.quiet(value):
            entry.feed(value, ts_s, events)
        return events

    def evaluate_frame(self, edge_id: str, channels: Mapping[str, SampleLike]) -> list[AlarmEvent]:
        """Every channel of one telemetry frame of ``edge_id``; the transitions caused.

        Walks whichever is smaller, the frame or the edge's watched channels (a frame
        of 50 channels with 9 of them watched: 9 lookups), and reads a sample's time
        only when its value can change something.
        """
        events: list[AlarmEvent] = []
        index = self._index.get(edge_id)
        if index is None:
            return events
        get_sample = channels.get
        if len(index) < len(channels):
            entries: Iterable[tuple[str, _Channel]] = index.items()
        else:
            get_entry = index.get
            entries = [(c, e) for c in channels if (e := get_entry(c)) is not None]
        # The channels of one frame mostly share their time, and comparing two times
        # costs a tenth of turning one into epoch seconds.
        last_t: datetime | None = None
        ts_s = 0.0
        for channel, entry in entries:
            sample = get_sample(channel)
            if sample is None:
                continue
            value = sample.v
            # _Channel.quiet, inlined: this line runs for every watched value.
            if type(value) is float or type(value) is int:
                if entry.lo <= value <= entry.hi:
                    continue
            elif value is not entry.loud:
                continue
            if sample.t != last_t:
                last_t = sample.t
                ts_s = last_t.timestamp()
            entry.feed(value, ts_s, events)
        return events
