"""The alarm core (:mod:`ems.alarms`) wired into one cloud process.

- **Ingest** (the process holding the edge's socket): :meth:`AlarmService.frame`
  feeds a live telemetry frame to the evaluator, synchronously and cheaply; the
  transitions it causes queue up (each with a copy of its alarm as it was
  then) for one committing task, so the socket's reader never waits on Redis.
- **Commit**: a transition is applied in Redis only if the stored state is still
  the one it started from (:class:`SharedAlarms`). Whoever loses (another process
  raised it first, an operator acknowledged it meanwhile) takes the stored
  alarm and judges its own sample again: one alarm, one raise, whoever
  evaluates. Each won transition is stored (who, when), sent to dashboards
  and, when it raises the alarm, mailed.
- **Commands** (ack, shelve, unshelve; any process): read the stored alarm,
  apply the machine, compare-and-set; the evaluating process is told to take
  the new state (``<p>:alarm-changed``).
- **Rules** (admins; any process): validated, stored with who and what, and
  every process reloads them (``<p>:alarm-rules``).
- **Upkeep** on a timer, every process: edge offline/stale from the cluster's
  presence, shelves that expired, escalations due; the compare-and-set and
  the per-level claim make each happen once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from typing import Any, Protocol

from ems.alarms import (
    DEFAULT_MAX_SHELVE_S,
    Alarm,
    AlarmBook,
    AlarmEvaluator,
    AlarmEvent,
    AlarmRule,
    AlarmState,
    EscalationPolicy,
    NotificationLimiter,
    SampleLike,
    SystemAlarmKind,
    escalations_due,
    machine,
    parse_rule,
)
from ems.alarms.dropped import FRAMES_DROPPED, DroppedWatch
from ems.alarms.errors import ALARM_NOT_FOUND, UNKNOWN_RULE, AlarmCommandRefused, InvalidRule
from ems.alarms.prognosis import PrognosisWatch
from ems.alarms.rules import check_rule_id
from ems.clock import Clock
from ems.cloud.alarms.shared_state import SharedAlarms
from ems.cloud.alarms.store import AlarmStore, RuleChange

__all__ = ["AlarmService", "KnownChannels", "Notify", "StateConflict"]

log = logging.getLogger(__name__)
audit = logging.getLogger("ems.audit.alarms")

#: ``(alarm, role, level, held_back)``: mail the users of ``role`` about the alarm.
Notify = Callable[[Alarm, str, int, int], Awaitable[None]]
#: The channels an edge reports (its latest values, its devices' profiles); ``None``:
#: nothing known of the edge yet, so any channel is taken.
KnownChannels = Callable[[str], Awaitable[Container[str] | None]]

_CAS_ATTEMPTS = 8
_STOP_DRAIN_S = 5.0


class StateConflict(RuntimeError):
    """A command lost the compare-and-set every time (a storm of changes): retry."""


class Publisher(Protocol):
    def publish(self, channel: str, data: str) -> None: ...


class AlarmService:
    def __init__(
        self,
        clock: Clock,
        store: AlarmStore,
        shared: SharedAlarms,
        *,
        bus: Publisher,
        fan_out: Callable[[AlarmEvent], None],
        notify: Notify | None = None,
        escalation: EscalationPolicy | None = None,
        limiter: NotificationLimiter | None = None,
        known_channels: KnownChannels | None = None,
        key_prefix: str = "ems",
        max_clock_drift_s: float = 5.0,
        dropped_clear_s: float = 600.0,
    ) -> None:
        self._clock = clock
        self._max_drift_s = max_clock_drift_s
        self.store = store
        self.shared = shared
        self._bus = bus
        self._fan_out = fan_out
        self._notify = notify
        self._escalation = escalation
        self._limiter = limiter or NotificationLimiter()
        self._known_channels = known_channels
        self.book = AlarmBook(clock)
        self.evaluator = AlarmEvaluator(self.book)
        self._dropped = DroppedWatch(dropped_clear_s)
        self._prognosis = PrognosisWatch()
        self.rules_channel = f"{key_prefix}:alarm-rules"
        self.changed_channel = f"{key_prefix}:alarm-changed"
        self._pending: asyncio.Queue[tuple[AlarmEvent, Alarm]] = asyncio.Queue()
        self._committer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        #: Transitions this process won (for tests and metrics).
        self.committed = 0

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        # Stored alarms first, then the rules: a condition still on is neither
        # raised again nor left uncleared (ems.alarms README).
        for alarm in await self.shared.all():
            self.book.restore(alarm)
        await self._load_rules()
        self._committer = asyncio.create_task(self._commit_loop(), name="alarm-commit")

    async def stop(self) -> None:
        if self._committer is not None:
            try:  # what is queued gets its chance, but Redis down must not hang the stop
                await asyncio.wait_for(self.drain(), _STOP_DRAIN_S)
            except TimeoutError:
                log.error("alarms: %d transitions not committed at stop", self._pending.qsize())
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        for task in list(self._background):
            task.cancel()

    async def drain(self) -> None:
        """Wait until every queued transition is committed (tests, shutdown)."""
        await self._pending.join()

    async def settle(self) -> None:
        """Wait until reloads and refreshes started so far, and what they queued, are done."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.drain()

    # -- ingest (the event loop of the process holding the edge) --------------------
    def frame(self, edge_id: str, channels: Mapping[str, SampleLike]) -> None:
        """A live telemetry frame (never a backfilled one: history would raise late)."""
        self._queue(self.evaluator.evaluate_frame(edge_id, channels))
        self._queue(self._prognosis.observe(self.book, edge_id, channels))
        dropped = channels.get(FRAMES_DROPPED)
        if dropped is not None:
            self._dropped_changed(
                edge_id,
                self._dropped.observe(edge_id, dropped.v, self._clock.time()),
                dropped.v,
            )

    def _dropped_changed(self, edge_id: str, on: bool | None, count: object) -> None:
        """``telemetry_dropped``: raised when the edge's counter rose, cleared after
        it stayed unchanged ``dropped_clear_s`` (see :class:`DroppedWatch`)."""
        if on is None:
            return
        value = float(count) if isinstance(count, int | float) else None
        kind = SystemAlarmKind.TELEMETRY_DROPPED
        if on:
            event = self.book.raise_system(kind, edge_id, value=value)
        else:
            event = self.book.clear_system(kind, edge_id, value=value)
        if event is not None:
            self._queue([event])

    def inventory(self, edge_id: str, devices: Iterable[str]) -> None:
        devices = list(devices)
        self.evaluator.watch_devices(edge_id, devices)
        self._prognosis.watch(edge_id, devices)

    def clock_sample(self, edge_id: str, edge_time_s: float, server_time_s: float) -> None:
        """``clock_drift`` while the edge's clock is off by more than the bound (the
        estimate includes the one-way latency, small beside a bound of seconds)."""
        drift_s = round(edge_time_s - server_time_s, 3)
        if abs(drift_s) > self._max_drift_s:
            event = self.book.raise_system(SystemAlarmKind.CLOCK_DRIFT, edge_id, value=drift_s)
        else:
            event = self.book.clear_system(SystemAlarmKind.CLOCK_DRIFT, edge_id, value=drift_s)
        if event is not None:
            self._queue([event])

    def energy_anomaly(self, edge_id: str, found: bool, score: float | None = None) -> None:
        """``energy_anomaly`` while the last hour checked was unusual (see
        :class:`ems.cloud.anomaly_watch.AnomalyWatch`); ``score`` its isolation score."""
        kind = SystemAlarmKind.ENERGY_ANOMALY
        if found:
            event = self.book.raise_system(kind, edge_id, value=score)
        else:
            event = self.book.clear_system(kind, edge_id, value=score)
        if event is not None:
            self._queue([event])

    def edge_attached(self, edge_id: str) -> None:
        """The edge connected here: take its stored alarms (it may come from another process)."""
        self._spawn(self._restore_edge(edge_id))

    def _queue(self, events: list[AlarmEvent]) -> None:
        for event in events:
            alarm = self.book.find(event.alarm_id)
            snapshot = (
                dataclasses.replace(alarm)
                if alarm is not None
                else _retired(event)  # a rule deleted: its last "cleared"
            )
            self._pending.put_nowait((event, snapshot))

    async def _restore_edge(self, edge_id: str) -> None:
        for stored in await self.shared.all(edge_id):
            self._adopt(stored)

    def _adopt(self, stored: Alarm) -> None:
        live = self.book.find(stored.alarm_id)
        if live is None:
            self.book.restore(stored)
            return
        # In place: the evaluator's watches hold this very object.
        for f in dataclasses.fields(Alarm):
            setattr(live, f.name, getattr(stored, f.name))

    # -- commit -------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            event, snapshot = await self._pending.get()
            try:
                await self._commit(event, snapshot)
            except Exception:
                log.exception(
                    "alarm %s: transition %s -> %s not committed",
                    event.alarm_id,
                    event.from_state,
                    event.to_state,
                )
            finally:
                self._pending.task_done()

    async def _commit(self, event: AlarmEvent, snapshot: Alarm) -> None:
        for _ in range(_CAS_ATTEMPTS):
            if await self.shared.apply(event.from_state, snapshot):
                await self._won(event, snapshot)
                return
            # Someone else moved it first: take theirs and judge our sample again.
            stored = await self.shared.get(event.alarm_id)
            judged = stored or dataclasses.replace(
                snapshot, state=AlarmState.CLEARED, condition=False, since_s=None
            )
            if event.note == "rule_deleted":
                again = machine.retire(judged, event.at_s, "rule_deleted")
            else:
                again = machine.set_condition(
                    judged, snapshot.condition, snapshot.value, event.at_s
                )
            live = self.book.find(event.alarm_id)
            if live is not None:
                self._adopt(judged)
            if again is None:
                return
            event, snapshot = again, dataclasses.replace(judged)
        log.error("alarm %s: gave up after %d conflicting writes", event.alarm_id, _CAS_ATTEMPTS)

    async def _won(self, event: AlarmEvent, alarm: Alarm) -> None:
        self.committed += 1
        audit.info(
            "alarm %s %s -> %s by %s",
            event.alarm_id,
            event.from_state.value,
            event.to_state.value,
            event.by,
            extra={
                "audit": "alarm.transition",
                "alarm_id": event.alarm_id,
                "edge_id": event.edge_id,
                "from_state": event.from_state.value,
                "to_state": event.to_state.value,
                "value": event.value,
                "user": event.by,
                "note": event.note,
            },
        )
        await self.store.write_events([event])
        self._fan_out(event)
        if event.to_state is AlarmState.ACTIVE_UNACKED and self._notify is not None:
            decision = self._limiter.decide(alarm.alarm_id, self._clock.time())
            if not decision.send:
                log.info("alarm %s: notification held back (flapping)", alarm.alarm_id)
            elif await self.shared.claim_level(alarm, 0):
                role = self._escalation.roles[0] if self._escalation else "operator"
                await self._notify(alarm, role, 0, decision.held_back)

    # -- commands (any process) ------------------------------------------------------
    async def acknowledge(self, alarm_id: str, user: str) -> AlarmEvent:
        return await self._command(
            alarm_id, lambda alarm, now: machine.acknowledge(alarm, user, now)
        )

    async def shelve(self, alarm_id: str, user: str, until_s: float, reason: str) -> AlarmEvent:
        return await self._command(
            alarm_id,
            lambda alarm, now: machine.shelve(
                alarm, user, until_s, reason, now, DEFAULT_MAX_SHELVE_S
            ),
        )

    async def unshelve(self, alarm_id: str, user: str) -> AlarmEvent:
        return await self._command(alarm_id, lambda alarm, now: machine.unshelve(alarm, user, now))

    async def _command(
        self, alarm_id: str, apply: Callable[[Alarm, float], AlarmEvent | None]
    ) -> AlarmEvent:
        for _ in range(_CAS_ATTEMPTS):
            alarm = await self.shared.get(alarm_id)
            if alarm is None:
                raise AlarmCommandRefused(
                    ALARM_NOT_FOUND, f"no alarm {alarm_id!r}", field="alarm_id"
                )
            before = alarm.state
            event = apply(alarm, self._clock.time())  # raises AlarmCommandRefused
            if event is None:
                raise AlarmCommandRefused(ALARM_NOT_FOUND, f"alarm {alarm_id!r}: nothing to do")
            if await self.shared.apply(before, alarm):
                await self._won(event, alarm)
                self._bus.publish(self.changed_channel, alarm_id)
                return event
        raise StateConflict(f"alarm {alarm_id}: changed by others too often; try again")

    def on_changed(self, data: bytes) -> None:
        """Another process changed an alarm (a command): take the stored state."""
        alarm_id = data.decode()
        if self.book.find(alarm_id) is not None:
            self._spawn(self._refresh(alarm_id))

    async def _refresh(self, alarm_id: str) -> None:
        stored = await self.shared.get(alarm_id)
        if stored is not None:
            self._adopt(stored)

    async def alarms(self, edge_id: str | None, state: AlarmState | None) -> list[Alarm]:
        found = await self.shared.all(edge_id)
        return [a for a in found if state is None or a.state is state]

    # -- rules (admins, any process) ------------------------------------------------
    def rules(self) -> dict[str, AlarmRule]:
        return self.evaluator.rules()

    async def put_rule(self, rule_id: str, body: object, user: str, *, create: bool) -> AlarmRule:
        """Validate, store (with who and what) and apply a rule on every process."""
        check_rule_id(rule_id)
        edge_id = body.get("edge_id") if isinstance(body, dict) else None
        known = None
        if isinstance(edge_id, str) and self._known_channels is not None:
            known = await self._known_channels(edge_id)
        rule = parse_rule(body, known)
        exists = rule_id in self.evaluator.rules()
        if create and exists:
            raise InvalidRule("rule_exists", f"alarm rule {rule_id!r} exists", field="rule_id")
        if not create and not exists:
            raise InvalidRule(UNKNOWN_RULE, f"no alarm rule {rule_id!r}", field="rule_id")
        action = "updated" if exists else "created"
        await self.store.change_rule(
            RuleChange(rule_id, action, rule.model_dump(mode="json"), user, self._clock.time())
        )
        audit.info(
            "alarm rule %s %s by %s: %s",
            rule_id,
            action,
            user,
            rule.model_dump_json(),
            extra={
                "audit": f"alarm_rule.{action}",
                "rule_id": rule_id,
                "edge_id": rule.edge_id,
                "rule": rule.model_dump(mode="json"),
                "user": user,
            },
        )
        self._queue(self.evaluator.set_rule(rule_id, rule))
        self._bus.publish(self.rules_channel, rule_id)
        return rule

    async def delete_rule(self, rule_id: str, user: str) -> None:
        if rule_id not in self.evaluator.rules():
            raise InvalidRule(UNKNOWN_RULE, f"no alarm rule {rule_id!r}", field="rule_id")
        await self.store.change_rule(RuleChange(rule_id, "deleted", None, user, self._clock.time()))
        audit.info(
            "alarm rule %s deleted by %s",
            rule_id,
            user,
            extra={"audit": "alarm_rule.deleted", "rule_id": rule_id, "user": user},
        )
        self._queue(self.evaluator.remove_rule(rule_id))
        self._bus.publish(self.rules_channel, rule_id)

    def on_rules_changed(self, _data: bytes) -> None:
        self._spawn(self._load_rules())

    async def _load_rules(self) -> None:
        stored = {r.rule_id: r for r in await self.store.rules()}
        current = self.evaluator.rules()
        events: list[AlarmEvent] = []
        for rule_id in set(current) - set(stored):
            events.extend(self.evaluator.remove_rule(rule_id))
        for rule_id, row in stored.items():
            try:
                rule = parse_rule(row.rule)
            except InvalidRule as exc:  # a row written by a newer release, say
                log.error("alarm rule %s not loaded: %s", rule_id, exc.detail)
                continue
            if current.get(rule_id) != rule:
                events.extend(self.evaluator.set_rule(rule_id, rule))
        self._queue(events)

    # -- upkeep (a timer, every process) ------------------------------------------------
    async def upkeep(self, presence: Mapping[str, tuple[bool, bool]]) -> None:
        """Edge offline/stale alarms from ``presence``, expired shelves, escalations due."""
        events: list[AlarmEvent] = []
        for edge_id, (online, stale) in sorted(presence.items()):
            for kind, on in (
                (SystemAlarmKind.EDGE_OFFLINE, not online),
                (SystemAlarmKind.EDGE_STALE, online and stale),
            ):
                if on:
                    event = self.book.raise_system(kind, edge_id)
                else:
                    event = self.book.clear_system(kind, edge_id)
                if event is not None:
                    events.append(event)
        self._queue(events)
        now_s = self._clock.time()
        for edge_id in self._dropped.edges():
            # Cleared on the timer too: a quiet edge may have stopped sending frames.
            self._dropped_changed(edge_id, self._dropped.quiet(edge_id, now_s), None)
        stored = await self.shared.all()
        for alarm in stored:
            until = alarm.shelved_until_s
            if alarm.state is AlarmState.SHELVED and until is not None and until <= now_s:
                with contextlib.suppress(AlarmCommandRefused, StateConflict):
                    await self._command(
                        alarm.alarm_id, lambda a, now: machine.expire_shelve(a, now)
                    )
        if self._notify is None:
            return
        first_role = self._escalation.roles[0] if self._escalation else "operator"
        for alarm_id, held_back in self._limiter.digests_due(now_s).items():
            # A flapping alarm gone quiet: its held-back count goes out as a summary.
            digest = next((a for a in stored if a.alarm_id == alarm_id), None)
            if digest is not None:
                await self._notify(digest, first_role, 0, held_back)
        if self._escalation is None:
            return
        for due in escalations_due(self._escalation, stored, now_s, {}):
            alarm = next(a for a in stored if a.alarm_id == due.alarm_id)
            if await self.shared.claim_level(alarm, due.level):
                log.info("alarm %s: escalated to %s", alarm.alarm_id, due.role)
                await self._notify(alarm, due.role, due.level, 0)

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)


def _retired(event: AlarmEvent) -> Alarm:
    return Alarm(
        event.alarm_id,
        event.edge_id,
        event.rule,
        event.severity,
        state=event.to_state,
        value=event.value,
        since_s=event.at_s,
    )


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("alarm background work failed", exc_info=task.exception())
