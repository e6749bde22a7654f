"""The behaviours :class:`InFlight` and :class:`OfflineQueue` must show, as checks both stores run.

Each check receives a :class:`Clients`, a factory of independent clients of one
server (several clients are several connections, as several cloud processes
would have). The unit tests run the checks on the embedded store (fakeredis),
the integration tests on a real ``redis-server``; both parametrize over
:data:`CHECKS`. Every check uses its own random key prefix, so checks can share
a server.

"Concurrent" callers are separate clients run with :func:`asyncio.gather`;
``await asyncio.sleep(0)`` between their calls only yields to the other tasks
(the embedded store answers without ever suspending), so their calls
interleave on both stores.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis_async

from ems.cloud.shared.inflight import InFlight, InFlightEntry
from ems.cloud.shared.queue import (
    QUEUE_FULL,
    ExpiredInQueue,
    OfflineQueue,
    QueuedCommand,
    Taken,
    ToDeliver,
)

__all__ = ["CHECKS", "INFLIGHT_CHECKS", "QUEUE_CHECKS", "T0", "Check", "Clients"]

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
RACE_ROUNDS = 200


class Clients:
    """Makes clients of one server (``make``) and closes every one of them in :meth:`aclose`."""

    def __init__(self, make: Callable[[], redis_async.Redis]) -> None:
        self._make = make
        self._made: list[redis_async.Redis] = []

    def __call__(self) -> redis_async.Redis:
        client = self._make()
        self._made.append(client)
        return client

    async def aclose(self) -> None:
        while self._made:
            await self._made.pop().aclose()


Check = Callable[[Clients], Awaitable[None]]


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


async def _keys(client: redis_async.Redis, prefix: str) -> list[str]:
    return sorted(
        k.decode() if isinstance(k, bytes) else k for k in await client.keys(f"{prefix}:*")
    )


# -- in-flight set ---------------------------------------------------------------


async def check_inflight_add_complete_claim(clients: Clients) -> None:
    client, prefix = clients(), _prefix()
    inflight = InFlight(client, prefix)
    assert await inflight.count() == 0
    assert await inflight.next_deadline() is None
    await inflight.add("cmd-a", "edge-1", T0 + 5.0, b'{"a":1}')
    await inflight.add("cmd-b", "edge-2", T0 + 6.25, "text ü")
    await inflight.add("cmd-c", "edge-1", T0 + 50.0, b"\x00\xff")
    assert await inflight.count() == 3
    assert await inflight.next_deadline() == T0 + 5.0

    assert await inflight.complete("cmd-a") is True
    assert await inflight.complete("cmd-a") is False  # a second final ack owns nothing
    assert await inflight.claim_expired(T0 + 6.0) == []  # cmd-b's deadline is later
    claimed = await inflight.claim_expired(T0 + 10.0)
    assert claimed == [InFlightEntry("cmd-b", "edge-2", T0 + 6.25, "text ü".encode())]
    assert claimed[0].text == "text ü"
    assert await inflight.claim_expired(T0 + 10.0) == []
    assert await inflight.complete("cmd-b") is False  # the watchdog won: the ack is late

    # The deadline itself counts as expired; binary payloads come back byte for byte.
    assert await inflight.claim_expired(T0 + 50.0) == [
        InFlightEntry("cmd-c", "edge-1", T0 + 50.0, b"\x00\xff")
    ]
    assert await inflight.count() == 0
    assert await _keys(client, prefix) == []  # edge and payload went with it


async def check_inflight_add_again_replaces(clients: Clients) -> None:
    inflight = InFlight(clients(), _prefix())
    await inflight.add("cmd-a", "edge-1", T0 + 1.0, b"old")
    await inflight.add("cmd-a", "edge-2", T0 + 100.0, b"new")
    assert await inflight.count() == 1
    assert await inflight.claim_expired(T0 + 10.0) == []
    assert await inflight.claim_expired(T0 + 100.0) == [
        InFlightEntry("cmd-a", "edge-2", T0 + 100.0, b"new")
    ]


async def check_inflight_claim_limit_earliest_first(clients: Clients) -> None:
    inflight = InFlight(clients(), _prefix())
    for i in (7, 2, 9, 0, 5, 1, 8, 3, 6, 4):  # added out of order
        await inflight.add(f"cmd-{i}", "edge-1", T0 + i, b"p")
    await inflight.add("cmd-later", "edge-1", T0 + 1000.0, b"p")
    batches = []
    while batch := await inflight.claim_expired(T0 + 100.0, limit=4):
        batches.append([entry.command_id for entry in batch])
    assert batches == [
        ["cmd-0", "cmd-1", "cmd-2", "cmd-3"],
        ["cmd-4", "cmd-5", "cmd-6", "cmd-7"],
        ["cmd-8", "cmd-9"],
    ]
    assert await inflight.count() == 1


async def check_inflight_complete_races_claim(clients: Clients) -> None:
    """A final ack and the watchdog at the same moment: exactly one of them wins, every time."""
    prefix = _prefix()
    acks, watchdog = InFlight(clients(), prefix), InFlight(clients(), prefix)
    ack_wins = watchdog_wins = 0
    for n in range(RACE_ROUNDS):
        command_id = f"cmd-{n}"
        await acks.add(command_id, "edge-1", T0 + n, b"p")
        now = T0 + n + 0.5  # only this round's command is due
        if n % 2:  # alternate who is scheduled first
            claimed, completed = await asyncio.gather(
                watchdog.claim_expired(now), acks.complete(command_id)
            )
        else:
            completed, claimed = await asyncio.gather(
                acks.complete(command_id), watchdog.claim_expired(now)
            )
        won_by_watchdog = [entry.command_id for entry in claimed] == [command_id]
        assert completed != won_by_watchdog, f"round {n}: {completed=} {claimed=}"
        assert claimed in ([], [InFlightEntry(command_id, "edge-1", T0 + n, b"p")])
        ack_wins += completed
        watchdog_wins += won_by_watchdog
    assert ack_wins + watchdog_wins == RACE_ROUNDS
    # both sides of the race were exercised
    assert ack_wins > 0
    assert watchdog_wins > 0
    assert await acks.count() == 0


async def check_inflight_concurrent_claims_disjoint(clients: Clients) -> None:
    """Three watchdogs at once: every expired command is claimed by exactly one."""
    prefix = _prefix()
    ids = [f"cmd-{i}" for i in range(300)]
    setup = InFlight(clients(), prefix)
    for i, command_id in enumerate(ids):
        await setup.add(command_id, f"edge-{i % 5}", T0 + i / 100, b"p")

    async def watchdog(inflight: InFlight) -> list[str]:
        mine: list[str] = []
        while batch := await inflight.claim_expired(T0 + 10.0, limit=7):
            mine += (entry.command_id for entry in batch)
            await asyncio.sleep(0)
        return mine

    results = await asyncio.gather(*(watchdog(InFlight(clients(), prefix)) for _ in range(3)))
    claimed = [command_id for mine in results for command_id in mine]
    assert sorted(claimed) == sorted(ids)  # all of them, none twice
    assert sum(1 for mine in results if mine) >= 2  # the claims did interleave
    assert await setup.count() == 0


# -- offline queue ---------------------------------------------------------------


def _ids(commands: list[QueuedCommand]) -> list[str]:
    return [command.command_id for command in commands]


async def _drain(queue: OfflineQueue, edge_id: str, worker_id: str, now_s: float) -> list[Taken]:
    """Take until the queue is empty, confirming each delivery."""
    taken: list[Taken] = []
    while (result := await queue.take_for_delivery(edge_id, worker_id, now_s=now_s)) is not None:
        taken.append(result)
        if isinstance(result, ToDeliver):
            assert await queue.delivered(edge_id, worker_id, result.command.command_id)
    return taken


def _delivered_ids(taken: list[Taken]) -> list[str]:
    return [t.command.command_id for t in taken if isinstance(t, ToDeliver)]


def _expired_ids(taken: list[Taken]) -> list[str]:
    return [t.expired.command_id for t in taken if isinstance(t, ExpiredInQueue)]


async def check_queue_fifo_order(clients: Clients) -> None:
    queue = OfflineQueue(clients(), _prefix())
    for i in range(5):
        result = await queue.push("edge-1", f"cmd-{i}", f'{{"n":{i},"s":"ü"}}', T0 + 60 - i)
        assert (result.queued, result.position, result.depth, result.reason) == (
            True,
            i + 1,
            i + 1,
            None,
        )
    taken = await _drain(queue, "edge-1", "worker-a", T0)
    assert taken == [
        ToDeliver(QueuedCommand("edge-1", f"cmd-{i}", f'{{"n":{i},"s":"ü"}}', T0 + 60 - i))
        for i in range(5)
    ]
    assert await queue.depth("edge-1") == 0
    assert await queue.take_for_delivery("edge-1", "worker-a", now_s=T0) is None


async def check_queue_full(clients: Clients) -> None:
    prefix = _prefix()
    queue = OfflineQueue(clients(), prefix, limit=3)
    for i in range(3):
        assert (await queue.push("edge-1", f"cmd-{i}", "{}", T0 + 60)).queued
    refused = await queue.push("edge-1", "cmd-3", "{}", T0 + 60)
    assert (refused.queued, refused.position, refused.depth) == (False, 0, 3)
    assert refused.reason == QUEUE_FULL == "queue_full"
    assert await queue.depth("edge-1") == 3
    assert (await queue.push("edge-2", "cmd-x", "{}", T0 + 60)).position == 1  # per edge

    # A retried push of a command already waiting is not a second copy (and not refused).
    again = await queue.push("edge-1", "cmd-1", "{}", T0 + 60)
    assert (again.queued, again.position, again.depth) == (True, 2, 3)

    # The limit counts waiting commands: one taken for delivery makes room.
    taken = await queue.take_for_delivery("edge-1", "worker-a", now_s=T0)
    assert isinstance(taken, ToDeliver)
    assert (await queue.push("edge-1", "cmd-4", "{}", T0 + 60)).position == 3

    # Concurrent pushes never overshoot the limit.
    racers = [OfflineQueue(clients(), prefix, limit=3) for _ in range(3)]
    results = await asyncio.gather(
        *(racers[i % 3].push("edge-3", f"race-{i}", "{}", T0 + 60) for i in range(12))
    )
    assert sum(r.queued for r in results) == 3
    assert sorted(r.position for r in results if r.queued) == [1, 2, 3]
    assert await queue.depth("edge-3") == 3


async def check_queue_crash_and_recover(clients: Clients) -> None:
    """Taken but never confirmed (the worker died): recover() puts it back first, in order."""
    prefix = _prefix()
    before_crash = OfflineQueue(clients(), prefix)
    for i in range(5):
        await before_crash.push("edge-1", f"cmd-{i}", f"p{i}", T0 + 60)
    await before_crash.push("edge-2", "other-0", "q0", T0 + 60)
    for edge_id in ("edge-1", "edge-1", "edge-2"):
        taken = await before_crash.take_for_delivery(edge_id, "worker-a", now_s=T0)
        assert isinstance(taken, ToDeliver)
    # ... worker-a crashes here, before delivered(). Meanwhile more commands arrive.
    after = OfflineQueue(clients(), prefix)  # the restarted process, a new connection
    await after.push("edge-1", "cmd-5", "p5", T0 + 60)
    assert await after.depth("edge-1") == 4
    assert await after.edges_with_queues() == ["edge-1"]

    assert await after.recover("worker-b") == 0  # nothing of another worker's is touched
    assert await after.recover("worker-a") == 3
    assert await after.recover("worker-a") == 0
    assert await after.depth("edge-1") == 6
    assert sorted(await after.edges_with_queues()) == ["edge-1", "edge-2"]

    edge_1 = await _drain(after, "edge-1", "worker-a", T0)
    assert _delivered_ids(edge_1) == [f"cmd-{i}" for i in range(6)]
    assert _delivered_ids(await _drain(after, "edge-2", "worker-a", T0)) == ["other-0"]
    assert await after.recover("worker-a") == 0  # everything was confirmed this time
    assert await after.edges_with_queues() == []
    assert await _keys(clients(), prefix) == []  # no empty leftovers


async def check_queue_delivered_only_once(clients: Clients) -> None:
    queue = OfflineQueue(clients(), _prefix())
    await queue.push("edge-1", "cmd-0", "p", T0 + 60)
    await queue.push("edge-1", "cmd-1", "p", T0 + 60)
    for _ in range(2):
        assert isinstance(await queue.take_for_delivery("edge-1", "worker-a", now_s=T0), ToDeliver)
    assert await queue.delivered("edge-1", "worker-a", "cmd-1") is True  # out of order is fine
    assert await queue.delivered("edge-1", "worker-a", "cmd-1") is False
    assert await queue.delivered("edge-1", "worker-b", "cmd-0") is False  # not worker-b's
    assert await queue.delivered("edge-1", "worker-a", "unknown") is False
    assert await queue.recover("worker-a") == 1  # cmd-0 only
    assert _delivered_ids(await _drain(queue, "edge-1", "worker-a", T0)) == ["cmd-0"]


async def check_queue_expired_never_delivered(clients: Clients) -> None:
    queue = OfflineQueue(clients(), _prefix())
    now = T0 + 10.0
    expiries = {"cmd-0": T0 + 1, "cmd-1": T0 + 100, "cmd-2": T0 + 2, "cmd-3": T0 + 100}
    expiries["cmd-4"] = now  # expiring exactly now counts as expired
    expiries["cmd-5"] = now + 0.001
    for command_id, expires_at_s in expiries.items():
        await queue.push("edge-1", command_id, "p", expires_at_s)
    taken = await _drain(queue, "edge-1", "worker-a", now)
    assert [(type(t).__name__, _id(t)) for t in taken] == [
        ("ExpiredInQueue", "cmd-0"),
        ("ToDeliver", "cmd-1"),
        ("ExpiredInQueue", "cmd-2"),
        ("ToDeliver", "cmd-3"),
        ("ExpiredInQueue", "cmd-4"),
        ("ToDeliver", "cmd-5"),
    ]
    for t in taken:
        if isinstance(t, ToDeliver):
            assert t.command.expires_at_s > now
        else:
            assert t.expired.expires_at_s <= now
            assert t.reason == "timeout_in_queue"
    assert await queue.expire(now + 1000) == []  # the expired ones were reported once, above
    assert await queue.recover("worker-a") == 0


def _id(taken: Taken) -> str:
    return taken.command.command_id if isinstance(taken, ToDeliver) else taken.expired.command_id


async def check_queue_expire_exactly_once(clients: Clients) -> None:
    """Two expiry workers at once: each expired command is reported by exactly one of them."""
    prefix = _prefix()
    setup = OfflineQueue(clients(), prefix)
    now = T0 + 5.0
    expected: dict[str, list[str]] = {"edge-1": [], "edge-2": [], "edge-3": []}
    live: dict[str, list[str]] = {"edge-1": [], "edge-2": [], "edge-3": []}
    for i in range(90):
        edge_id = f"edge-{i % 3 + 1}"
        command_id = f"cmd-{i}"
        expired = edge_id == "edge-3" or i % 4 == 0  # edge-3's queue expires entirely
        await setup.push(edge_id, command_id, f"p{i}", T0 + (1 + i / 100 if expired else 100))
        (expected if expired else live)[edge_id].append(command_id)

    async def expiry_worker(queue: OfflineQueue) -> list[QueuedCommand]:
        mine: list[QueuedCommand] = []
        while batch := await queue.expire(now, limit=4):
            mine += batch
            await asyncio.sleep(0)
        return mine

    a, b = await asyncio.gather(
        expiry_worker(OfflineQueue(clients(), prefix)),
        expiry_worker(OfflineQueue(clients(), prefix)),
    )
    assert a  # both did some of the work
    assert b
    reported = _ids(a + b)
    assert len(reported) == len(set(reported))  # nothing twice
    assert sorted(reported) == sorted(c for ids in expected.values() for c in ids)  # nothing missed
    for command in a + b:
        assert command.command_id in expected[command.edge_id]
        assert command.expires_at_s <= now
        assert command.payload == f"p{command.command_id.removeprefix('cmd-')}"

    assert await setup.expire(now) == []
    assert sorted(await setup.edges_with_queues()) == ["edge-1", "edge-2"]
    for edge_id in ("edge-1", "edge-2", "edge-3"):
        assert await setup.depth(edge_id) == len(live[edge_id])
        taken = await _drain(setup, edge_id, "worker-a", now)
        assert _delivered_ids(taken) == live[edge_id]  # still in FIFO order
        assert _expired_ids(taken) == []


async def check_queue_take_races_expire(clients: Clients) -> None:
    """A delivering worker and an expiry worker at once: each command has exactly one outcome."""
    prefix = _prefix()
    setup = OfflineQueue(clients(), prefix)
    now = T0 + 5.0
    live: list[str] = []
    expired: list[str] = []
    for i in range(60):
        stale = i % 3 != 0
        await setup.push("edge-1", f"cmd-{i}", "p", T0 + (1 if stale else 100))
        (expired if stale else live).append(f"cmd-{i}")

    async def deliverer(queue: OfflineQueue) -> list[Taken]:
        taken: list[Taken] = []
        while (result := await queue.take_for_delivery("edge-1", "w", now_s=now)) is not None:
            taken.append(result)
            await asyncio.sleep(0)
        return taken

    async def expiry_worker(queue: OfflineQueue) -> list[QueuedCommand]:
        mine: list[QueuedCommand] = []
        while batch := await queue.expire(now, limit=3):
            mine += batch
            await asyncio.sleep(0)
        return mine

    taken, by_expiry = await asyncio.gather(
        deliverer(OfflineQueue(clients(), prefix)), expiry_worker(OfflineQueue(clients(), prefix))
    )
    assert _delivered_ids(taken) == live  # only live ones, in order
    failed = _expired_ids(taken) + _ids(by_expiry)
    assert sorted(failed) == sorted(expired)  # each expired one failed exactly once
    assert by_expiry  # the expiry worker did take part


async def check_queue_depth_and_edges(clients: Clients) -> None:
    queue = OfflineQueue(clients(), _prefix())
    assert await queue.edges_with_queues() == []
    assert await queue.depth("edge-1") == 0
    await queue.push("edge-2", "cmd-a", "p", T0 + 50)
    await queue.push("edge-1", "cmd-b", "p", T0 + 30)
    await queue.push("edge-1", "cmd-c", "p", T0 + 10)
    assert await queue.edges_with_queues() == ["edge-1", "edge-2"]  # earliest expiry first
    assert (await queue.depth("edge-1"), await queue.depth("edge-2")) == (2, 1)

    assert await queue.expire(T0 + 10) == [QueuedCommand("edge-1", "cmd-c", "p", T0 + 10)]
    assert await queue.edges_with_queues() == ["edge-1", "edge-2"]
    await queue.take_for_delivery("edge-1", "worker-a", now_s=T0)
    assert await queue.edges_with_queues() == ["edge-2"]  # a command in delivery is not queued
    assert await queue.depth("edge-1") == 0
    await queue.take_for_delivery("edge-2", "worker-a", now_s=T0)
    assert await queue.edges_with_queues() == []

    for bad in ("", "a:b"):  # ids that become parts of key names
        assert await _refused(queue.push(bad, "cmd", "p", T0))
        assert await _refused(queue.take_for_delivery("edge-1", bad, now_s=T0))
        assert await _refused(queue.depth(bad))


async def _refused(call: Awaitable[object]) -> bool:
    """Whether awaiting ``call`` raises ValueError."""
    try:
        await call
    except ValueError:
        return True
    return False


async def check_queue_recovered_commands_expire_again(clients: Clients) -> None:
    """A command does not expire while in a delivery list; back in the queue, it does."""
    queue = OfflineQueue(clients(), _prefix())
    await queue.push("edge-1", "cmd-0", "p", T0 + 5.5)
    await queue.push("edge-1", "cmd-1", "p", T0 + 50)
    assert isinstance(await queue.take_for_delivery("edge-1", "worker-a", now_s=T0), ToDeliver)
    assert await queue.expire(T0 + 10) == []
    assert await queue.recover("worker-a") == 1
    assert await queue.edges_with_queues() == ["edge-1"]
    assert await queue.expire(T0 + 10) == [QueuedCommand("edge-1", "cmd-0", "p", T0 + 5.5)]
    taken = await queue.take_for_delivery("edge-1", "worker-a", now_s=T0 + 10)
    assert isinstance(taken, ToDeliver)
    assert taken.command.command_id == "cmd-1"


INFLIGHT_CHECKS: dict[str, Check] = {
    "inflight_add_complete_claim": check_inflight_add_complete_claim,
    "inflight_add_again_replaces": check_inflight_add_again_replaces,
    "inflight_claim_limit_earliest_first": check_inflight_claim_limit_earliest_first,
    "inflight_complete_races_claim": check_inflight_complete_races_claim,
    "inflight_concurrent_claims_disjoint": check_inflight_concurrent_claims_disjoint,
}

QUEUE_CHECKS: dict[str, Check] = {
    "queue_fifo_order": check_queue_fifo_order,
    "queue_full": check_queue_full,
    "queue_crash_and_recover": check_queue_crash_and_recover,
    "queue_delivered_only_once": check_queue_delivered_only_once,
    "queue_expired_never_delivered": check_queue_expired_never_delivered,
    "queue_expire_exactly_once": check_queue_expire_exactly_once,
    "queue_take_races_expire": check_queue_take_races_expire,
    "queue_depth_and_edges": check_queue_depth_and_edges,
    "queue_recovered_commands_expire_again": check_queue_recovered_commands_expire_again,
}

CHECKS: dict[str, Check] = {**INFLIGHT_CHECKS, **QUEUE_CHECKS}
