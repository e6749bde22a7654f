"""ChannelStore: declaration, timestamped writes, atomic groups, snapshots, watchers.

The concurrency tests are bounded by iteration counts (not by time) and start
their threads together on a Barrier; a short GIL switch interval makes thread
switches, and so any torn read, far more likely.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Iterator
from types import MappingProxyType

import pytest

from ems.clock import VirtualClock
from ems.dal import Category, ChannelInfo, ChannelStore, Sample, Snapshot
from ems.errors import InvalidAddress, UnknownChannel

START_S = 1_000_000.0
JOIN_TIMEOUT_S = 60.0

SOC = "battery_1/Soc"
POWER = "battery_1/ActivePower"
SETPOINT = "battery_1/SetActivePower"
GRID = "grid/ActivePower"
REQ = "ui_requests/battery_1_power"
ACK = "ack/battery_1_power"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start_s=START_S)


@pytest.fixture
def store(clock: VirtualClock) -> ChannelStore:
    s = ChannelStore(clock)
    s.declare(SOC, Category.INPUT, unit="%")
    s.declare(POWER, Category.INPUT, unit="W")
    s.declare(SETPOINT, Category.OUTPUT, unit="W")
    s.declare(GRID, Category.INPUT, unit="W")
    s.declare(REQ, Category.REQUEST)
    s.declare(ACK, Category.ACK)
    return s


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


class TickingClock:
    """Wall time that moves on every read, so every write gets a distinct stamp."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)

    def time(self) -> float:
        return float(next(self._ticks))  # next() on a count is atomic in CPython

    def monotonic(self) -> float:
        return self.time()

    async def sleep_until(self, deadline_s: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def wait_until(self, deadline_s: float, stop: threading.Event) -> bool:  # pragma: no cover
        raise NotImplementedError


# ------------------------------------------------------------- set / get basics


def test_declared_channel_is_empty_until_set(store: ChannelStore) -> None:
    assert store.get_channel(SOC) is None
    assert SOC not in store.snapshot()


def test_set_with_explicit_timestamp(store: ChannelStore) -> None:
    store.set_channel(SOC, 55.5, ts=123.25)
    assert store.get_channel(SOC) == Sample(55.5, 123.25)
    sample = store.get_channel(SOC)
    assert sample is not None
    assert sample.value == 55.5
    assert sample.ts == 123.25


def test_set_defaults_timestamp_to_clock_wall_time(
    store: ChannelStore, clock: VirtualClock
) -> None:
    store.set_channel(SOC, 50)
    assert store.get_channel(SOC) == Sample(50, START_S)
    clock.advance(2.5)
    store.set_channel(SOC, 51)
    assert store.get_channel(SOC) == Sample(51, START_S + 2.5)
    clock.set_time(2_000_000.0)  # an NTP step moves the stamps with it
    store.set_channel(POWER, -1200)
    assert store.get_channel(POWER) == Sample(-1200, 2_000_000.0)


@pytest.mark.parametrize("value", [0, -2500, 3.25, True, False, "charging", None])
def test_scalar_values_are_stored_as_given(store: ChannelStore, value: object) -> None:
    store.set_channel(SOC, value, ts=1.0)  # type: ignore[arg-type]
    sample = store.get_channel(SOC)
    assert sample is not None
    assert sample.value == value
    assert type(sample.value) is type(value)


def test_last_write_wins(store: ChannelStore) -> None:
    for v in range(10):
        store.set_channel(SOC, v, ts=float(v))
    assert store.get_channel(SOC) == Sample(9, 9.0)


# --------------------------------------------------------- undeclared/malformed


def test_setting_an_undeclared_channel_raises_unknown_channel(store: ChannelStore) -> None:
    with pytest.raises(UnknownChannel) as excinfo:
        store.set_channel("battery_2/Soc", 1)
    assert str(excinfo.value) == "channel 'battery_2/Soc' was never declared"
    assert isinstance(excinfo.value, KeyError)
    assert "battery_2/Soc" not in store.snapshot()


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda s, a: s.set_channel(a, 1), id="set_channel"),
        pytest.param(lambda s, a: s.set_channels({a: 1}), id="set_channels"),
        pytest.param(lambda s, a: s.swap(a, 1), id="swap"),
        pytest.param(lambda s, a: s.compare_and_set(a, lambda _: True, 1), id="cas"),
        pytest.param(lambda s, a: s.get_channel(a), id="get_channel"),
        pytest.param(lambda s, a: s.info(a), id="info"),
    ],
)
def test_every_operation_refuses_unknown_and_malformed_addresses(store: ChannelStore, op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownChannel, match="never declared"):
        op(store, "battery_9/Soc")
    with pytest.raises(InvalidAddress, match="malformed channel address"):
        op(store, "battery_1/soc")
    with pytest.raises(InvalidAddress, match="malformed channel address"):
        op(store, "../x")
    with pytest.raises(InvalidAddress, match="must be a string"):
        op(store, None)
    assert len(store.snapshot()) == 0


def test_declare_refuses_a_malformed_address(store: ChannelStore) -> None:
    with pytest.raises(InvalidAddress):
        store.declare("Battery_1/Soc", Category.INPUT)
    with pytest.raises(InvalidAddress):
        store.declare("battery_1/Soc\n", Category.INPUT)
    assert "Battery_1/Soc" not in [i.address for i in store.channels()]


def test_set_channels_with_one_unknown_address_writes_nothing(store: ChannelStore) -> None:
    with pytest.raises(UnknownChannel, match="battery_7/Soc"):
        store.set_channels({SOC: 1, "battery_7/Soc": 2, POWER: 3})
    assert store.get_channel(SOC) is None
    assert store.get_channel(POWER) is None


# --------------------------------------------------------------- categories


def test_command_channels_take_the_category_of_their_prefix(clock: VirtualClock) -> None:
    s = ChannelStore(clock)
    s.declare(REQ, Category.REQUEST)
    s.declare(ACK, Category.ACK)
    assert s.info(REQ) == ChannelInfo(REQ, Category.REQUEST, None)
    assert s.info(ACK).category is Category.ACK
    for cat in (Category.INPUT, Category.OUTPUT, Category.ACK):
        with pytest.raises(InvalidAddress, match="is a request channel"):
            s.declare("ui_requests/pv_1_power", cat)
    for cat in (Category.INPUT, Category.OUTPUT, Category.REQUEST):
        with pytest.raises(InvalidAddress, match="is a ack channel"):
            s.declare("ack/pv_1_power", cat)


@pytest.mark.parametrize("cat", [Category.REQUEST, Category.ACK])
def test_request_and_ack_categories_need_their_prefix(clock: VirtualClock, cat: Category) -> None:
    s = ChannelStore(clock)
    with pytest.raises(InvalidAddress, match="live under their prefix"):
        s.declare("battery_1/Power", cat)
    assert s.channels() == []


def test_redeclaring_with_the_same_category_is_allowed_another_is_refused(
    store: ChannelStore,
) -> None:
    store.set_channel(SOC, 10, ts=1.0)
    store.declare(SOC, Category.INPUT, unit="%")
    assert store.get_channel(SOC) == Sample(10, 1.0)  # redeclaring keeps the value
    with pytest.raises(InvalidAddress, match="already declared as input"):
        store.declare(SOC, Category.OUTPUT)
    assert store.info(SOC).category is Category.INPUT


def test_channels_lists_declarations_by_category(store: ChannelStore) -> None:
    assert {i.address for i in store.channels()} == {SOC, POWER, SETPOINT, GRID, REQ, ACK}
    assert {i.address for i in store.channels(Category.INPUT)} == {SOC, POWER, GRID}
    assert [i.address for i in store.channels(Category.OUTPUT)] == [SETPOINT]
    assert [i.address for i in store.channels(Category.REQUEST)] == [REQ]
    assert [i.address for i in store.channels(Category.ACK)] == [ACK]
    assert store.info(SOC).unit == "%"


# ---------------------------------------------------------------- set_channels


def test_set_channels_uses_one_default_timestamp(store: ChannelStore, clock: VirtualClock) -> None:
    clock.advance(7.0)
    store.set_channels({SOC: 40, POWER: 1500, GRID: -300})
    snap = store.snapshot()
    assert snap[SOC] == Sample(40, START_S + 7.0)
    assert snap[POWER] == Sample(1500, START_S + 7.0)
    assert snap[GRID] == Sample(-300, START_S + 7.0)


def test_set_channels_reads_the_clock_once() -> None:
    clock = TickingClock()
    s = ChannelStore(clock)
    addresses = [f"meter_1/C{i}" for i in range(20)]
    for a in addresses:
        s.declare(a, Category.INPUT)
    s.set_channels(dict.fromkeys(addresses, 1))
    stamps = {s.get_channel(a).ts for a in addresses}  # type: ignore[union-attr]
    assert len(stamps) == 1


def test_set_channels_with_explicit_timestamp(store: ChannelStore) -> None:
    store.set_channels({SOC: 41, SETPOINT: -2000}, ts=99.0)
    assert store.get_channel(SOC) == Sample(41, 99.0)
    assert store.get_channel(SETPOINT) == Sample(-2000, 99.0)
    assert store.get_channel(POWER) is None


def test_set_channels_is_all_or_nothing_even_if_a_watcher_raises(
    store: ChannelStore,
) -> None:
    def explode(address: str, sample: Sample) -> None:
        if address == SOC:
            raise RuntimeError("watcher bug")

    store.watch("battery_1/", explode)
    with pytest.raises(RuntimeError, match="watcher bug"):
        store.set_channels({SOC: 1, POWER: 2, SETPOINT: 3}, ts=5.0)
    assert store.get_channel(SOC) == Sample(1, 5.0)
    assert store.get_channel(POWER) == Sample(2, 5.0)
    assert store.get_channel(SETPOINT) == Sample(3, 5.0)


# ---------------------------------------------------------- swap / compare_and_set


def test_swap_returns_the_replaced_sample(store: ChannelStore, clock: VirtualClock) -> None:
    assert store.swap(REQ, {"value": -2500, "command_id": "c1"}) is None
    clock.advance(1.0)
    old = store.swap(REQ, None)
    assert old is not None
    assert old.ts == START_S
    assert dict(old.value) == {"value": -2500, "command_id": "c1"}  # type: ignore[arg-type]
    assert store.get_channel(REQ) == Sample(None, START_S + 1.0)
    assert store.swap(REQ, None, ts=3.0) == Sample(None, START_S + 1.0)


def test_compare_and_set(store: ChannelStore) -> None:
    seen: list[Sample | None] = []

    def is_empty(current: Sample | None) -> bool:
        seen.append(current)
        return current is None or current.value is None

    assert store.compare_and_set(REQ, is_empty, {"command_id": "a"}, ts=1.0) is True
    assert store.compare_and_set(REQ, is_empty, {"command_id": "b"}, ts=2.0) is False
    current = store.get_channel(REQ)
    assert current is not None
    assert current.ts == 1.0
    assert dict(current.value) == {"command_id": "a"}  # type: ignore[arg-type]
    assert seen[0] is None
    assert seen[1] == current

    store.set_channel(REQ, None, ts=3.0)
    assert store.compare_and_set(REQ, is_empty, {"command_id": "c"}, ts=4.0) is True
    assert store.get_channel(REQ).ts == 4.0  # type: ignore[union-attr]


def test_compare_and_set_is_atomic_across_threads(
    store: ChannelStore, fast_switching: None
) -> None:
    """Many threads race to claim an empty request channel: exactly one wins each round."""
    n_threads, rounds = 8, 200
    barrier = threading.Barrier(n_threads, timeout=JOIN_TIMEOUT_S)
    wins = [0] * n_threads
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait()
                if store.compare_and_set(
                    REQ, lambda cur, r=r: cur is None or cur.value != r, r, ts=float(r)
                ):
                    wins[i] += 1
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sum(wins) == rounds


# ------------------------------------------------------------------- freezing


def test_dict_values_are_copied_and_read_only(store: ChannelStore) -> None:
    payload = {"command_id": "c1", "value": -2500, "meta": {"user": "alice"}}
    store.set_channel(REQ, payload, ts=1.0)
    payload["value"] = 9999
    payload["meta"]["user"] = "mallory"  # type: ignore[index]
    del payload["command_id"]

    stored = store.get_channel(REQ).value  # type: ignore[union-attr]
    assert stored == {"command_id": "c1", "value": -2500, "meta": {"user": "alice"}}
    with pytest.raises(TypeError):
        stored["value"] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        stored["meta"]["user"] = "eve"  # type: ignore[index]
    assert isinstance(stored, MappingProxyType)


def test_a_read_only_view_of_the_callers_dict_is_copied_too(store: ChannelStore) -> None:
    backing = {"value": 1}
    store.set_channel(REQ, MappingProxyType(backing), ts=1.0)
    backing["value"] = 2
    assert store.get_channel(REQ).value == {"value": 1}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s, v: s.set_channels({REQ: v}), id="set_channels"),
        pytest.param(lambda s, v: s.swap(REQ, v), id="swap"),
        pytest.param(lambda s, v: s.compare_and_set(REQ, lambda _: True, v), id="cas"),
    ],
)
def test_every_write_path_freezes_dicts(store: ChannelStore, write) -> None:  # type: ignore[no-untyped-def]
    payload = {"value": 1}
    write(store, payload)
    payload["value"] = 2
    assert store.get_channel(REQ).value == {"value": 1}  # type: ignore[union-attr]


def test_snapshot_values_are_not_affected_by_the_caller(store: ChannelStore) -> None:
    payload = {"value": 1}
    store.set_channel(REQ, payload)
    snap = store.snapshot()
    payload["value"] = 2
    assert snap.value(REQ) == {"value": 1}


# ------------------------------------------------------------------ snapshots


def test_snapshot_is_a_frozen_copy(store: ChannelStore, clock: VirtualClock) -> None:
    store.set_channel(SOC, 50, ts=1.0)
    store.set_channel(POWER, 100, ts=2.0)
    clock.advance(3.0)
    snap = store.snapshot()
    store.set_channel(SOC, 51, ts=4.0)
    store.set_channel(GRID, 5, ts=4.0)

    assert isinstance(snap, Snapshot)
    assert snap.taken_at == START_S + 3.0
    assert dict(snap) == {SOC: Sample(50, 1.0), POWER: Sample(100, 2.0)}
    assert len(snap) == 2
    assert set(snap) == {SOC, POWER}
    assert GRID not in snap
    with pytest.raises(KeyError):
        snap[GRID]
    with pytest.raises(TypeError):
        snap[SOC] = Sample(0, 0.0)  # type: ignore[index]
    assert store.snapshot()[SOC] == Sample(51, 4.0)


def test_snapshot_filters_by_category(store: ChannelStore) -> None:
    store.set_channels({SOC: 1, POWER: 2, SETPOINT: 3, GRID: 4, REQ: {"v": 5}, ACK: {"s": 6}})
    assert set(store.snapshot(categories=[Category.INPUT])) == {SOC, POWER, GRID}
    assert set(store.snapshot(categories=[Category.OUTPUT])) == {SETPOINT}
    assert set(store.snapshot(categories={Category.REQUEST, Category.ACK})) == {REQ, ACK}
    assert set(store.snapshot(categories=(c for c in [Category.ACK]))) == {ACK}
    assert len(store.snapshot(categories=[])) == 0
    assert len(store.snapshot()) == 6
    assert store.snapshot(categories=[Category.OUTPUT])[SETPOINT] == store.get_channel(SETPOINT)


def test_snapshot_value_number_and_age(store: ChannelStore) -> None:
    store.set_channels({SOC: 55, POWER: -1250.5, GRID: True}, ts=100.0)
    store.set_channel(SETPOINT, "n/a", ts=90.0)
    store.set_channel(REQ, {"value": 3}, ts=80.0)
    store.set_channel(ACK, None, ts=70.0)
    snap = store.snapshot()

    assert snap.number(SOC) == 55.0
    assert isinstance(snap.number(SOC), float)
    assert snap.number(POWER) == -1250.5
    assert snap.number(GRID) is None  # a bool is not a number here
    assert snap.number(SETPOINT) is None
    assert snap.number(REQ) is None
    assert snap.number(ACK) is None
    assert snap.number("battery_9/Soc") is None

    assert snap.value(SOC) == 55
    assert snap.value(GRID) is True
    assert snap.value(ACK) is None
    assert snap.value("battery_9/Soc") is None
    assert snap.value("battery_9/Soc", default=-1) == -1
    assert snap.value(ACK, default=-1) is None  # set to None is not "missing"

    assert snap.age_s(SOC, now=112.5) == 12.5
    assert snap.age_s(SETPOINT, now=100.0) == 10.0
    assert snap.age_s("battery_9/Soc", now=100.0) is None


# ------------------------------------------------------------------- watchers


def test_watchers_see_every_write_under_their_prefix_in_order(store: ChannelStore) -> None:
    battery: list[tuple[str, Sample]] = []
    requests: list[tuple[str, Sample]] = []
    everything: list[str] = []
    store.watch("battery_1/", lambda a, s: battery.append((a, s)))
    store.watch("ui_requests/", lambda a, s: requests.append((a, s)))
    store.watch("", lambda a, s: everything.append(a))

    store.set_channel(SOC, 1, ts=1.0)
    store.set_channel(GRID, 2, ts=2.0)
    store.set_channels({POWER: 3, SETPOINT: 4}, ts=3.0)
    store.swap(SOC, 5, ts=4.0)
    store.compare_and_set(SOC, lambda cur: False, 6, ts=5.0)  # refused: no event
    store.compare_and_set(SOC, lambda cur: True, 7, ts=6.0)
    store.set_channel(REQ, {"value": 8}, ts=7.0)

    assert battery == [
        (SOC, Sample(1, 1.0)),
        (POWER, Sample(3, 3.0)),
        (SETPOINT, Sample(4, 3.0)),
        (SOC, Sample(5, 4.0)),
        (SOC, Sample(7, 6.0)),
    ]
    assert [(a, dict(s.value), s.ts) for a, s in requests] == [(REQ, {"value": 8}, 7.0)]  # type: ignore[arg-type]
    assert everything == [SOC, GRID, POWER, SETPOINT, SOC, SOC, REQ]


def test_unwatch_stops_only_that_watcher(store: ChannelStore) -> None:
    a: list[object] = []
    b: list[object] = []
    unwatch_a = store.watch("battery_1/", lambda addr, s: a.append(s.value))
    store.watch("battery_1/", lambda addr, s: b.append(s.value))
    store.set_channel(SOC, 1)
    unwatch_a()
    store.set_channel(SOC, 2)
    unwatch_a()  # idempotent
    store.set_channel(SOC, 3)
    assert a == [1]
    assert b == [1, 2, 3]


def test_the_same_callback_watched_twice_is_called_twice(store: ChannelStore) -> None:
    seen: list[object] = []

    def cb(address: str, sample: Sample) -> None:
        seen.append(sample.value)

    first = store.watch("battery_1/", cb)
    store.watch("battery_1/", cb)
    store.set_channel(SOC, 1)
    first()
    store.set_channel(SOC, 2)
    assert seen == [1, 1, 2]


# ---------------------------------------------------------------- concurrency


def _run_threads(targets: list[threading.Thread]) -> None:
    for t in targets:
        t.start()
    for t in targets:
        t.join(JOIN_TIMEOUT_S)
    alive = [t.name for t in targets if t.is_alive()]
    assert alive == [], f"threads did not finish: {alive}"


@pytest.mark.parametrize("use_categories", [False, True], ids=["all", "filtered"])
def test_concurrent_group_writes_never_produce_a_torn_snapshot(
    fast_switching: None, use_categories: bool
) -> None:
    n_writers, n_channels, n_writes = 4, 50, 400
    store = ChannelStore(TickingClock())
    groups = [[f"writer_{w}/C{c}" for c in range(n_channels)] for w in range(n_writers)]
    for group in groups:
        for address in group:
            store.declare(address, Category.INPUT)
    store.declare("noise_1/X", Category.OUTPUT)

    barrier = threading.Barrier(n_writers + 1, timeout=JOIN_TIMEOUT_S)
    writers_done = threading.Event()
    finished = [0]
    finished_lock = threading.Lock()
    errors: list[BaseException] = []
    snapshots: list[Snapshot] = []

    def writer(w: int) -> None:
        try:
            barrier.wait()
            group = groups[w]
            for k in range(1, n_writes + 1):
                store.set_channels(dict.fromkeys(group, k))  # default ts: one stamp
                store.set_channel("noise_1/X", k)
        except BaseException as e:
            errors.append(e)
            barrier.abort()
        finally:
            with finished_lock:
                finished[0] += 1
                if finished[0] == n_writers:
                    writers_done.set()

    def reader() -> None:
        try:
            barrier.wait()
            while not writers_done.is_set():
                snapshots.append(
                    store.snapshot([Category.INPUT]) if use_categories else store.snapshot()
                )
            snapshots.append(store.snapshot())
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(w,), name=f"w{w}") for w in range(n_writers)]
    threads.append(threading.Thread(target=reader, name="reader"))
    _run_threads(threads)
    assert errors == []
    assert len(snapshots) >= 2

    last_seen = [0] * n_writers
    for snap in snapshots:
        for w, group in enumerate(groups):
            present = [a for a in group if a in snap]
            if not present:
                assert last_seen[w] == 0
                continue
            assert len(present) == n_channels, f"writer {w}: partial group in a snapshot"
            values = {snap[a].value for a in group}
            stamps = {snap[a].ts for a in group}
            assert len(values) == 1, f"torn snapshot: writer {w} values {sorted(values)}"
            assert len(stamps) == 1, f"torn snapshot: writer {w} stamps {sorted(stamps)}"
            (value,) = values
            assert value >= last_seen[w], "a later snapshot went back in time"
            last_seen[w] = value
    assert last_seen == [n_writes] * n_writers
    final = snapshots[-1]
    assert final.value("noise_1/X") == n_writes


def test_concurrent_single_writes_are_never_lost(fast_switching: None) -> None:
    n_threads, per_thread, n_writes = 8, 10, 300
    clock = VirtualClock(start_s=START_S)
    store = ChannelStore(clock)
    own = [[f"dev_{t}/C{c}" for c in range(per_thread)] for t in range(n_threads)]
    shared = "_sum/Shared"
    for group in own:
        for address in group:
            store.declare(address, Category.INPUT)
    store.declare(shared, Category.INPUT)
    total = n_threads * per_thread + 1

    notified: list[tuple[str, object]] = []  # appended under the store lock
    store.watch("", lambda a, s: notified.append((a, s.value)))

    barrier = threading.Barrier(n_threads + 1, timeout=JOIN_TIMEOUT_S)
    writers_left = threading.Semaphore(0)
    errors: list[BaseException] = []
    sizes: list[int] = []
    views: list[Snapshot] = []

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for k in range(n_writes):
                for address in own[t]:
                    store.set_channel(address, k, ts=float(k))
                store.set_channel(shared, t * 1_000_000 + k, ts=float(k))
        except BaseException as e:
            errors.append(e)
            barrier.abort()
        finally:
            writers_left.release()

    def reader() -> None:
        try:
            barrier.wait()
            done = 0
            while done < n_threads:
                snap = store.snapshot()
                sizes.append(len(snap))
                views.append(snap)
                if writers_left.acquire(blocking=False):
                    done += 1
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    threads.append(threading.Thread(target=reader))
    _run_threads(threads)
    assert errors == []

    # Sizes only grow (channels are never removed) and never exceed what was declared.
    assert all(0 <= n <= total for n in sizes)
    assert sizes == sorted(sizes)
    # Each channel's value only moves forward between successive snapshots, and the
    # sample is whole (value and stamp written together).
    for group in own:
        for address in group:
            prev = -1
            for snap in views:
                sample = snap.get(address)
                if sample is None:
                    assert prev == -1
                    continue
                assert sample.ts == float(sample.value)  # type: ignore[arg-type]
                assert sample.value >= prev  # type: ignore[operator]
                prev = sample.value  # type: ignore[assignment]

    # No write lost: every channel holds the last value its thread wrote ...
    final = store.snapshot()
    assert len(final) == total
    for group in own:
        for address in group:
            assert final[address] == Sample(n_writes - 1, float(n_writes - 1))
    # ... the contended channel holds the value of whichever write came last ...
    assert final[shared].value == notified[-1][1]
    # ... and every single write was notified, in per-thread order.
    assert len(notified) == n_threads * n_writes * (per_thread + 1)
    per_thread_shared: dict[int, list[int]] = {t: [] for t in range(n_threads)}
    for address, value in notified:
        if address == shared:
            t, k = divmod(value, 1_000_000)  # type: ignore[call-overload]
            per_thread_shared[t].append(k)
    assert per_thread_shared == {t: list(range(n_writes)) for t in range(n_threads)}


def test_removed_channels_leave_every_snapshot_and_refuse_writes() -> None:
    """A device a pushed config took out: its channels go, the others stay."""
    store = ChannelStore(VirtualClock(1_000.0))
    store.declare("pv_2/ActivePower", Category.INPUT, "W")
    store.declare("grid/ActivePower", Category.INPUT, "W")
    seen: list[str] = []
    store.watch("pv_2/", lambda a, _s: seen.append(a))
    store.set_channels({"pv_2/ActivePower": -900.0, "grid/ActivePower": 100.0})
    store.remove(["pv_2/ActivePower", "pv_2/NeverDeclared"])
    assert list(store.snapshot()) == ["grid/ActivePower"]
    assert list(store.snapshot([Category.INPUT])) == ["grid/ActivePower"]
    assert [c.address for c in store.channels()] == ["grid/ActivePower"]
    with pytest.raises(UnknownChannel):
        store.set_channel("pv_2/ActivePower", 1.0)
    store.declare("pv_2/ActivePower", Category.INPUT, "W")  # the device comes back
    assert store.get_channel("pv_2/ActivePower") is None, "without its old value"
    store.set_channel("pv_2/ActivePower", -500.0)
    assert seen == ["pv_2/ActivePower", "pv_2/ActivePower"]
