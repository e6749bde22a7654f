"""The behaviours both record copies must show, as checks each backend's tests run.

:data:`STORE_CHECKS` take a started :class:`CommandStore` on an empty database
and a factory for a second, unstarted store on the same database (SQLite in
the unit tests, PostgreSQL in the integration tests). :data:`HOT_CHECKS` take
a Redis client (the embedded store in the unit tests, a real server in the
integration tests) and use a random key prefix each, so they can share a
server. Times are whole microseconds, which every backend keeps exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis_async

from ems.cloud.records.model import (
    CommandInfo,
    CommandStore,
    StatusChange,
    StatusEvent,
    TraceEntry,
)
from ems.cloud.records.redis_hot import HotRecords

__all__ = ["HOT_CHECKS", "STORE_CHECKS", "T0", "HotCheck", "StoreCheck", "change"]

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
EDGE = "site-1"

StoreFactory = Callable[[], CommandStore]
StoreCheck = Callable[[CommandStore, StoreFactory], Awaitable[None]]
HotCheck = Callable[[redis_async.Redis], Awaitable[None]]


def info(
    command_id: str | None = None,
    *,
    created_at: float = T0,
    edge_id: str = EDGE,
    user: str = "olga",
    value: object = -2500,
) -> CommandInfo:
    return CommandInfo(
        command_id or str(uuid.uuid4()),
        edge_id,
        user,
        "battery_1",
        "set_active_power",
        value,
        created_at - 0.25,
        300,
        created_at,
    )


def change(
    command: CommandInfo,
    status: str,
    at: float,
    reason: str | None = None,
    detail: str | None = None,
) -> StatusChange:
    return StatusChange(command, StatusEvent(status, reason, detail or f"{status} detail", at))


def lifecycle(command: CommandInfo) -> list[StatusChange]:
    """received -> delivered -> executed, 10 ms apart."""
    t = command.created_at
    return [
        change(command, "received", t, detail="sent to site-1"),
        change(command, "delivered", t + 0.010),
        change(command, "executed", t + 0.020),
    ]


# -- the durable store ---------------------------------------------------------------
async def store_history_in_order(store: CommandStore, _: StoreFactory) -> None:
    c = info(value=-1234.5)
    for step in lifecycle(c):  # one change per write, as a quiet cloud writes them
        await store.write([step])
    record = await store.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]
    assert [e.at for e in record.history] == [T0, T0 + 0.010, T0 + 0.020]
    assert record.history[0].detail == "sent to site-1"
    assert (record.status, record.terminal, record.updated_at) == ("executed", True, T0 + 0.020)
    assert record.command == c, "every field round-trips, value and times included"


async def store_one_batch_keeps_order(store: CommandStore, _: StoreFactory) -> None:
    a, b = info(), info(created_at=T0 + 1)
    steps = lifecycle(a)
    other = lifecycle(b)
    await store.write([steps[0], other[0], steps[1], other[1], steps[2], other[2]])
    for c in (a, b):
        record = await store.get(c.command_id)
        assert record is not None
        assert [e.status for e in record.history] == ["received", "delivered", "executed"]


async def store_history_by_time_when_writes_cross(store: CommandStore, _: StoreFactory) -> None:
    # Two cloud processes: the one with the edge writes "delivered" and "executed"
    # before the batch of the one with the dashboard writes its earlier "received".
    c = info()
    received, delivered, executed = lifecycle(c)
    await store.write([delivered, executed])
    await store.write([received])
    record = await store.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]
    assert (record.status, record.terminal) == ("executed", True)


async def store_final_status_is_final(store: CommandStore, _: StoreFactory) -> None:
    c = info()
    await store.write([change(c, "received", T0), change(c, "failed", T0 + 5, "edge_timeout")])
    # A progress status reported late by another process: it takes its place in
    # time in the history, but the final status stays final.
    await store.write([change(c, "delivered", T0 + 1)])
    record = await store.get(c.command_id)
    assert record is not None
    assert (record.status, record.reason, record.terminal) == ("failed", "edge_timeout", True)
    assert [e.status for e in record.history] == ["received", "delivered", "failed"]


async def store_later_progress_wins(store: CommandStore, _: StoreFactory) -> None:
    c = info()
    await store.write([change(c, "delivered", T0 + 1)])
    await store.write([change(c, "received", T0)])  # older, arriving second
    record = await store.get(c.command_id)
    assert record is not None
    assert (record.status, record.terminal) == ("delivered", False)


async def store_repeated_write_adds_nothing(store: CommandStore, _: StoreFactory) -> None:
    c = info()
    steps = lifecycle(c)
    await store.write(steps[:2])
    await store.write(steps)  # a retried batch overlapping what is stored
    record = await store.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]


async def store_lists_newest_first(store: CommandStore, _: StoreFactory) -> None:
    made = [info(created_at=T0 + i) for i in range(5)]
    await store.write([change(c, "queued", c.created_at) for c in made])
    await store.write([change(info(edge_id="site-2", created_at=T0 + 9), "queued", T0 + 9)])
    listed = await store.list_for_edge(EDGE, 3)
    assert [r.command.command_id for r in listed] == [c.command_id for c in made[::-1][:3]]
    assert all(r.history == () and r.status == "queued" for r in listed)
    assert await store.list_for_edge("site-3", 10) == []


async def store_unknown_is_none(store: CommandStore, _: StoreFactory) -> None:
    assert await store.get(str(uuid.uuid4())) is None


async def store_values_round_trip(store: CommandStore, _: StoreFactory) -> None:
    for value in (True, 7, -0.5, "auto", {"target_grid_w": -300, "enabled": True}):
        c = info(value=value)
        await store.write([change(c, "rejected", T0, "out_of_range")])
        record = await store.get(c.command_id)
        assert record is not None
        assert record.command.value == value
        assert type(record.command.value) is type(value)


async def store_survives_a_new_instance(store: CommandStore, factory: StoreFactory) -> None:
    c = info()
    await store.write(lifecycle(c))
    again = factory()
    await again.start()  # the schema is already there: start must not fail or reset it
    try:
        record = await again.get(c.command_id)
        assert record is not None
        assert [e.status for e in record.history] == ["received", "delivered", "executed"]
        assert record.status == "executed"
    finally:
        await again.close()


def waypoint(
    command_id: str, event: str, at: float, *, source: str = "edge", seq: int = 0
) -> TraceEntry:
    return TraceEntry(
        command_id,
        str(uuid.uuid4()),
        source,
        EDGE,
        event,
        "delivered",
        None,
        f"{event} detail",
        at,
        seq,
    )


async def store_trace_in_time_order(store: CommandStore, _: StoreFactory) -> None:
    c = info()
    t = c.created_at
    late = waypoint(c.command_id, "controller.executed", t + 0.5, seq=2)
    first = waypoint(c.command_id, "cloud.received", t, source="cloud", seq=7)
    tie_a = waypoint(c.command_id, "edge.received", t + 0.1, seq=0)
    tie_b = waypoint(c.command_id, "edge.request_written", t + 0.1, seq=1)
    await store.write_trace([late, tie_b])
    await store.write_trace([first, tie_a])
    await store.write_trace([waypoint(info().command_id, "edge.received", t)])  # another command
    assert await store.get_trace(c.command_id) == [first, tie_a, tie_b, late]


async def store_repeated_trace_adds_nothing(store: CommandStore, _: StoreFactory) -> None:
    c = info()
    entry = waypoint(c.command_id, "edge.received", c.created_at)
    await store.write_trace([entry])
    await store.write_trace([entry, entry])  # an edge's resend, a retried batch
    assert await store.get_trace(c.command_id) == [entry]
    assert await store.get_trace(info().command_id) == []


STORE_CHECKS: dict[str, StoreCheck] = {
    "trace_in_time_order": store_trace_in_time_order,
    "repeated_trace_adds_nothing": store_repeated_trace_adds_nothing,
    "history_in_order": store_history_in_order,
    "one_batch_keeps_order": store_one_batch_keeps_order,
    "history_by_time_when_writes_cross": store_history_by_time_when_writes_cross,
    "final_status_is_final": store_final_status_is_final,
    "later_progress_wins": store_later_progress_wins,
    "repeated_write_adds_nothing": store_repeated_write_adds_nothing,
    "lists_newest_first": store_lists_newest_first,
    "unknown_is_none": store_unknown_is_none,
    "values_round_trip": store_values_round_trip,
    "survives_a_new_instance": store_survives_a_new_instance,
}


# -- the hot copy --------------------------------------------------------------------
def _hot(client: redis_async.Redis, **kwargs: int) -> HotRecords:
    return HotRecords(client, f"test-{uuid.uuid4().hex[:8]}", **kwargs)


async def hot_history_and_open_set(client: redis_async.Redis) -> None:
    hot = _hot(client)
    c = info(user="alice")
    steps = lifecycle(c)
    await hot.write(steps[:2])
    (open_,) = await hot.unfinished("alice")
    assert open_.command == c
    assert (open_.current, open_.terminal) == (steps[1].event, False)
    await hot.write(steps[2:])
    assert await hot.unfinished("alice") == [], "a final status leaves the open set"
    record = await hot.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]
    assert (record.status, record.terminal) == ("executed", True)
    assert record.command == c


async def hot_history_by_time_when_writes_cross(client: redis_async.Redis) -> None:
    hot = _hot(client)
    c = info()
    received, delivered, executed = lifecycle(c)
    await hot.write([delivered, executed])
    await hot.write([received])
    record = await hot.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]
    assert (record.status, record.terminal) == ("executed", True)


async def hot_open_commands_per_user_oldest_first(client: redis_async.Redis) -> None:
    hot = _hot(client)
    mine = [info(user="alice", created_at=T0 + i) for i in (2, 0, 1)]
    await hot.write([change(c, "queued", c.created_at, detail="waiting") for c in mine])
    await hot.write([change(info(user="bob"), "queued", T0)])
    found = await hot.unfinished("alice")
    assert [o.command.created_at for o in found] == [T0, T0 + 1, T0 + 2]
    assert all(o.current.status == "queued" and o.current.detail == "waiting" for o in found)


async def hot_repeated_write_adds_nothing(client: redis_async.Redis) -> None:
    hot = _hot(client)
    c = info()
    await hot.write(lifecycle(c)[:2])
    await hot.write(lifecycle(c))
    record = await hot.get(c.command_id)
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]


async def hot_final_status_is_final(client: redis_async.Redis) -> None:
    hot = _hot(client)
    c = info(user="alice")
    await hot.write([change(c, "received", T0), change(c, "failed", T0 + 5, "edge_timeout")])
    await hot.write([change(c, "delivered", T0 + 1)])  # late, from another process
    record = await hot.get(c.command_id)
    assert record is not None
    assert (record.status, record.reason) == ("failed", "edge_timeout")
    assert await hot.unfinished("alice") == [], "a late progress status does not reopen it"


async def hot_edge_index_newest_first(client: redis_async.Redis) -> None:
    hot = _hot(client, edge_keep=4)
    made = [info(created_at=T0 + i) for i in range(6)]
    await hot.write([change(c, "queued", c.created_at) for c in made])
    listed = await hot.recent_for_edge(EDGE, 3)
    assert [r.command.command_id for r in listed] == [c.command_id for c in made[::-1][:3]]
    everything = await hot.recent_for_edge(EDGE, 100)
    assert len(everything) == 4, "the index keeps the newest edge_keep commands"


async def hot_keys_expire(client: redis_async.Redis) -> None:
    hot = _hot(client, ttl_s=600)
    c = info(user="alice")
    await hot.write([change(c, "queued", T0)])
    keys = await client.keys(f"{hot.key_prefix}:*")
    assert len(keys) == 3, keys  # the record, alice's open set, the edge index
    for key in keys:
        assert 0 < await client.ttl(key) <= 600, key


async def hot_expired_record_leaves_the_open_set(client: redis_async.Redis) -> None:
    hot = _hot(client)
    c = info(user="alice")
    await hot.write([change(c, "queued", T0)])
    await client.delete(f"{hot.key_prefix}:cmd:{c.command_id}")  # as its expiry would
    assert await hot.unfinished("alice") == []
    assert await client.scard(f"{hot.key_prefix}:cmd-open:alice") == 0


async def _redis_calls(client: redis_async.Redis) -> int:
    """Commands Redis ran so far, scripts' inner calls included (INFO itself left out)."""
    stats: dict[str, dict[str, int]] = await client.info("commandstats")
    return sum(s["calls"] for name, s in stats.items() if name != "cmdstat_info")


async def hot_lifecycle_redis_calls(client: redis_async.Redis) -> None:
    # Real Redis only (fakeredis has no INFO). The command path writes a
    # command's three statuses one at a time: the script reads once and writes
    # once per status and leaves the user's open set alone while the command
    # stays in it (8 + 3 + 4 inner calls), and no SCRIPT EXISTS goes first.
    hot = _hot(client)
    c = info(user="alice")
    await hot.write(lifecycle(c)[:1])  # loads the script
    other = info(user="alice")
    before = await _redis_calls(client)
    for step in lifecycle(other):
        await hot.write([step])
    assert await _redis_calls(client) - before <= 18
    assert [o.command for o in await hot.unfinished("alice")] == [c]


HOT_CHECKS: dict[str, HotCheck] = {
    "history_and_open_set": hot_history_and_open_set,
    "history_by_time_when_writes_cross": hot_history_by_time_when_writes_cross,
    "open_commands_per_user_oldest_first": hot_open_commands_per_user_oldest_first,
    "repeated_write_adds_nothing": hot_repeated_write_adds_nothing,
    "final_status_is_final": hot_final_status_is_final,
    "edge_index_newest_first": hot_edge_index_newest_first,
    "keys_expire": hot_keys_expire,
    "expired_record_leaves_the_open_set": hot_expired_record_leaves_the_open_set,
}
