"""Runs drivers against the DAL: one thread per device, never on the cycle's path.

Each :class:`DriverRunner` polls its driver on absolute deadlines every
``poll_s``, retrying a poll that got no answer ``retries`` times with a
doubling backoff. When every attempt failed it sets
``<device>/CommunicationFailed`` and publishes nothing else, so the device's
inputs keep their last timestamps and go stale honestly; the next poll tries
again (reconnecting), so a device that comes back recovers by itself.

Setpoints reach the runner through :meth:`DriverRunner.submit` (a dict per
channel: the latest value wins, so a dead device never grows a queue) and
are written on the runner's thread as soon as it wakes, before its next
poll. A failed write is counted in ``<device>/WriteFailures``, logged, and
reported as a :class:`~ems.edge.device_writes.WriteOutcome` for the command
that caused it.

A poll's channels go into the DAL in one write through a :data:`Publish`
function: the store's own ``set_channels`` by default; the edge passes its
simulated grid meter's, which closes the site balance over the reading in
that same write (:meth:`ems.devices.host.SiteBus.publish_measured`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ems.clock import Clock
from ems.dal import Category, ChannelStore, Value
from ems.drivers.base import Driver, Reading
from ems.edge.device_writes import WriteOutcome
from ems.errors import DeviceIOError, DeviceTimeout
from ems.protocol import reasons

__all__ = ["DRIVER_CHANNELS", "DriverHost", "DriverRunner", "Publish"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Puts a poll's channels (full addresses) into the DAL in one write, stamped ``now_s``.
Publish = Callable[[Mapping[str, Value], float], None]

#: name -> unit of the channels every driver device has besides its profile's.
DRIVER_CHANNELS: dict[str, str | None] = {
    "CommunicationFailed": None,  # bool: the last poll got no answer
    "ReadErrors": None,  # registers the device refused to read, cumulative
    "WriteFailures": None,  # setpoint writes that failed, cumulative
}


class _Fenced(Exception):
    """A write withheld: this edge no longer holds its control lease."""


class DriverRunner:
    """Polls one driver and writes its setpoints, on its own thread."""

    def __init__(
        self,
        driver: Driver,
        store: ChannelStore,
        clock: Clock,
        publish: Publish | None = None,
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        """``may_write``: asked right before each write (an HA edge's lease); None: always."""
        self.driver = driver
        self._may_write = may_write
        self._store = store
        self._publish_values: Publish = (
            publish if publish is not None else lambda v, ts: store.set_channels(v, ts=ts)
        )
        self._clock = clock
        self._cfg = driver.config
        self._prefix = driver.device_id + "/"
        self._writable = driver.writable()
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Value, list[str]]] = {}
        self._outcomes: list[WriteOutcome] = []
        # Set by stop() and by submit(): either way the thread wakes up.
        self._wake = threading.Event()
        self._stop = threading.Event()  # only stop(): cuts a retry's backoff short
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.failed: bool | None = None  # None until the first poll
        self.polls = 0
        self.poll_failures = 0
        self.read_errors = 0
        self.write_failures = 0
        self.writes = 0
        self.fenced = 0  # writes withheld because this edge no longer held the lease
        self._write_failing = False

    # -- called from the cycle ------------------------------------------
    def submit(self, values: Mapping[str, Value], tags: Mapping[str, Sequence[str]]) -> None:
        refused: list[WriteOutcome] = []
        with self._lock:
            for channel, value in values.items():
                ids = list(tags.get(channel, ()))
                if channel not in self._writable:
                    refused += [
                        WriteOutcome(
                            c, False, reasons.DEVICE_WRITE_FAILED, f"{channel} is not writable here"
                        )
                        for c in ids
                    ]
                    continue
                known = self._pending.get(channel)
                # Commands waiting on an older value ride on the newer one (latest wins).
                carried = known[1] if known is not None else []
                self._pending[channel] = (value, carried + ids)
            self._outcomes.extend(refused)
        self._wake.set()

    def outcomes(self) -> list[WriteOutcome]:
        with self._lock:
            out, self._outcomes = self._outcomes, []
        return out

    # -- the thread ------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._stopping = False
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"driver-{self.driver.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)  # the thread closes the driver on its way out
            self._thread = None
        else:
            self.driver.close()  # polled without the thread (lockstep, tests)

    def _run(self) -> None:
        next_poll = self._clock.monotonic()
        try:
            while not self._stopping:
                try:
                    self._step(next_poll)
                except Exception:  # a driver's bug must not end its device's thread
                    log.exception("driver of %s failed; it is polled again", self._prefix[:-1])
                    self.driver.close()
                if self._clock.monotonic() >= next_poll:
                    # Absolute deadlines; a slow poll skips the deadlines it missed.
                    periods = int((self._clock.monotonic() - next_poll) // self._cfg.poll_s) + 1
                    next_poll += periods * self._cfg.poll_s
                if not self._pending_any():
                    self._clock.wait_until(next_poll, self._wake)
                self._wake.clear()
        finally:
            self.driver.close()

    def _step(self, next_poll: float) -> None:
        self.flush_writes()
        if self._clock.monotonic() >= next_poll:
            self.poll_once()

    def _pending_any(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._stopping

    # -- one poll, one flush (public so tests can drive them without the thread)
    def poll_once(self) -> bool:
        """Read the device once (with retries); publish. Returns whether it answered."""
        self.polls += 1
        reading = self._attempt("read", self.driver.read)
        now_s = self._clock.time()
        if reading is None:
            self.poll_failures += 1
            if self.failed is not True:
                log.warning("device %s stopped answering; its inputs go stale", self._prefix[:-1])
            self.failed = True
            self._publish_values({self._prefix + "CommunicationFailed": True}, now_s)
            return False
        if self.failed:
            log.info("device %s answers again", self._prefix[:-1])
        self.failed = False
        self._publish(reading, now_s)
        return True

    def flush_writes(self) -> None:
        """Send every pending setpoint once (with retries); report each verdict."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for channel, (value, ids) in pending.items():
            error: DeviceIOError | None = None

            def write(channel: str = channel, value: Value = value) -> bool:
                # Asked before every attempt, retries included: another edge may be in
                # control by now, and its writes must be the only ones.
                if self._may_write is not None and not self._may_write():
                    raise _Fenced
                self.driver.write(channel, value)
                return True

            try:
                self._attempt("write", write, raise_last=True)
            except DeviceIOError as exc:
                error = exc
            except _Fenced:
                self.fenced += 1
                with self._lock:
                    self._outcomes.extend(
                        WriteOutcome(
                            c, False, reasons.NOT_LEADER, "this edge lost its control lease"
                        )
                        for c in ids
                    )
                continue
            if error is None:
                if self._write_failing:
                    log.info("device %s takes writes again", self._prefix[:-1])
                self._write_failing = False
                self.writes += 1
                verdicts = [WriteOutcome(c, True) for c in ids]
            else:
                self.write_failures += 1
                # The first failure of a streak is an error; repeats (a dead device is
                # written every cycle) are counted, not logged again.
                level = logging.DEBUG if self._write_failing else logging.ERROR
                self._write_failing = True
                log.log(
                    level,
                    "device %s: write of %s=%r failed (%s): %s",
                    self._prefix[:-1],
                    channel,
                    value,
                    error.reason,
                    error,
                )
                self._store.set_channel(
                    self._prefix + "WriteFailures", self.write_failures, ts=self._clock.time()
                )
                verdicts = [WriteOutcome(c, False, error.reason, str(error)) for c in ids]
            with self._lock:
                self._outcomes.extend(verdicts)

    def _publish(self, reading: Reading, now_s: float) -> None:
        if reading.refused:
            self.read_errors += len(reading.refused)
            for channel, why in reading.refused.items():
                log.warning("device %s: %s not read: %s", self._prefix[:-1], channel, why)
        values: dict[str, Value] = {self._prefix + n: v for n, v in reading.values.items()}
        values[self._prefix + "CommunicationFailed"] = False
        values[self._prefix + "ReadErrors"] = self.read_errors
        self._publish_values(values, now_s)

    def _attempt(self, what: str, call: Callable[[], T], raise_last: bool = False) -> T | None:
        """``call`` with bounded retries; only a timeout is retried (a refusal is an answer)."""
        delay_s = self._cfg.backoff_s
        for attempt in range(self._cfg.retries + 1):
            try:
                return call()
            except DeviceTimeout as exc:
                self.driver.close()  # a half-open connection is not reused
                if attempt == self._cfg.retries or self._stopping:
                    if raise_last:
                        raise
                    log.debug("device %s: %s failed: %s", self._prefix[:-1], what, exc)
                    return None
            # On the stop event, not the wake one: a submit() must not cut the backoff.
            self._clock.wait_until(self._clock.monotonic() + delay_s, self._stop)
            delay_s *= 2
        return None


class DriverHost:
    """Every driver of a site: their threads, and the cycle's :class:`DeviceWriter`."""

    def __init__(
        self,
        store: ChannelStore,
        clock: Clock,
        drivers: Sequence[Driver],
        publish: Publish | None = None,
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        """``publish``: how polls reach the DAL (default: straight into ``store``);
        ``may_write``: asked before every device write (see :class:`DriverRunner`)."""
        self._store = store
        self._clock = clock
        self._publish = publish
        self._may_write = may_write
        self._running = False
        self.runners = {
            d.device_id: DriverRunner(d, store, clock, publish, may_write) for d in drivers
        }
        # Runners a pushed config replaced: their last write verdicts still count.
        self._retired: list[DriverRunner] = []
        for runner in self.runners.values():
            self.declare(runner.driver)

    def declare(self, driver: Driver) -> None:
        for name, unit in {**driver.extra_channels(), **DRIVER_CHANNELS}.items():
            self._store.declare(f"{driver.device_id}/{name}", Category.INPUT, unit)

    def replace(self, drivers: Sequence[Driver]) -> list[DriverRunner]:
        """Run ``drivers`` from now on (a pushed config); returns the retired runners.

        Call it between two cycles: from then on the cycle's setpoints go to the new
        runners (queued until :meth:`start_new` starts them). A driver object kept
        from the old set keeps its runner, thread and connection untouched. Retired
        runners still run until stopped (``runner.stop``, off the event loop), and
        the verdicts of the writes they made still reach :meth:`outcomes`.
        """
        old = {id(r.driver): r for r in self.runners.values()}
        runners: dict[str, DriverRunner] = {}
        for driver in drivers:
            runner = old.pop(id(driver), None)
            if runner is None:
                self.declare(driver)
                runner = DriverRunner(
                    driver, self._store, self._clock, self._publish, self._may_write
                )
            runners[driver.device_id] = runner
        self.runners = runners
        self._retired += old.values()
        return list(old.values())

    def start_new(self) -> None:
        """Start the runners :meth:`replace` added, if the host runs."""
        if self._running:
            for runner in self.runners.values():
                if not runner.started:
                    runner.start()

    def devices(self) -> frozenset[str]:
        return frozenset(self.runners)

    def submit(
        self, device_id: str, values: Mapping[str, Value], tags: Mapping[str, Sequence[str]]
    ) -> None:
        self.runners[device_id].submit(values, tags)

    def outcomes(self) -> list[WriteOutcome]:
        # A retired runner whose thread has ended gives no verdict after this drain.
        finished = [r for r in self._retired if not r.started]
        out: list[WriteOutcome] = []
        for runner in (*self.runners.values(), *self._retired):
            out.extend(runner.outcomes())
        if finished:
            self._retired = [r for r in self._retired if r not in finished]
        return out

    def start(self) -> None:
        self._running = True
        for runner in self.runners.values():
            runner.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._running = False
        for runner in self.runners.values():
            runner.stop(timeout_s)
