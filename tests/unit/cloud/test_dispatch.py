"""The Dispatcher, one behaviour at a time (DESIGN section 4).

Each test runs a real dispatcher on a fresh embedded store and a virtual
clock, with fake sockets for the edges and the user's dashboard
(``dispatch_fakes.Cloud``). The model-based test of the whole lifecycle is
``test_dispatch_lifecycle.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from dispatch_fakes import (
    BATTERY,
    EDGES,
    METER,
    ODD,
    SET_MODE,
    SET_POWER,
    USER,
    Cloud,
    command_id,
)

from ems.cloud.shared import PushResult
from ems.protocol import UiAck

A, B = EDGES
WATCHDOG_S = 5.0


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[Cloud]:
    made = Cloud()
    yield made
    await made.aclose()


async def online(cloud: Cloud, edge_id: str = A) -> None:
    """The edge is connected and has just reported 5 kW charge and discharge limits."""
    await cloud.connect(edge_id)
    cloud.telemetry(edge_id)


def sent(cloud: Cloud, edge_id: str = A) -> list[str]:
    """Command ids the edge received, in order (over every connection it had)."""
    peer = cloud.peers.get(edge_id)
    return [] if peer is None else [s.frame.command_id for s in peer.received]


def heard(cloud: Cloud) -> list[tuple[str, str, str | None]]:
    """What the status listeners were told."""
    return [(t.command_id, a.status, a.reason) for t, a in cloud.heard]


def shown(cloud: Cloud) -> list[tuple[str, str, str | None]]:
    """What the dashboard was sent."""
    return [(a.command_id, a.status, a.reason) for a in cloud.acks()]


def audited(caplog: pytest.LogCaptureFixture, event_type: str) -> list[str]:
    """Command ids of the audit records of one event type."""
    return [
        str(getattr(r, "command_id", ""))
        for r in caplog.records
        if getattr(r, "event", None) == event_type
    ]


# -- rejected ------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reason: str
    value: object = 1000.0
    edge_id: str = A
    device: str = BATTERY
    action: str = SET_POWER
    role: str = "operator"
    connected: bool = True
    telemetry_age_s: float | None = 0.0  # None: the edge reported no limits yet
    limit_w: object = 5000.0  # what it reported as MaxChargePower and MaxDischargePower


REFUSALS = {
    "viewer": Refusal("forbidden", role="viewer"),
    "no_role": Refusal("forbidden", role=""),
    "unknown_edge": Refusal("unknown_edge", edge_id="edge-z", connected=False),
    "unknown_device": Refusal("unknown_device", device="nope1"),
    "unknown_profile": Refusal("unknown_device", device=ODD),
    "unknown_action": Refusal("unknown_action", action="explode"),
    "device_without_actions": Refusal("unknown_action", device=METER, action=SET_MODE),
    "above_static_max": Refusal("out_of_range", value=1_000_001.0),
    "below_static_min": Refusal("out_of_range", value=-1_000_001),
    "string_for_number": Refusal("invalid_payload", value="fast"),
    "bool_for_number": Refusal("invalid_payload", value=True),
    "infinite": Refusal("invalid_payload", value=float("inf")),
    "mode_not_in_enum": Refusal("invalid_payload", action=SET_MODE, value="turbo"),
    "number_for_mode": Refusal("invalid_payload", action=SET_MODE, value=1.0),
    "no_telemetry": Refusal("no_telemetry", telemetry_age_s=None),
    "null_limit": Refusal("no_telemetry", limit_w=None),
    "text_limit": Refusal("no_telemetry", limit_w="5 kW"),
    "stale_telemetry": Refusal("stale_telemetry", telemetry_age_s=30.5),
    "above_discharge_limit": Refusal("exceeds_dynamic_limit", value=5000.5),
    "below_charge_limit": Refusal("exceeds_dynamic_limit", value=-6000),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", REFUSALS.values(), ids=list(REFUSALS))
async def test_a_command_that_fails_a_check_is_rejected_with_its_reason(
    cloud: Cloud, case: Refusal
) -> None:
    if case.connected:
        await cloud.connect(case.edge_id)
        if case.telemetry_age_s is not None:
            at = cloud.clock.time() - case.telemetry_age_s
            cloud.telemetry(case.edge_id, case.limit_w, case.limit_w, at_s=at)
    cid = command_id(1)
    cmd = cloud.command(cid, case.edge_id, case.value, device=case.device, action=case.action)

    ack = await cloud.submit(cmd, role=case.role)

    assert (ack.status, ack.reason, ack.command_id, ack.edge_id) == (
        "rejected",
        case.reason,
        cid,
        case.edge_id,
    )
    assert ack.detail
    assert cloud.acks() == [ack]  # the dashboard got the same ack
    assert heard(cloud) == [(cid, "rejected", case.reason)]
    assert cloud.dispatcher.commands[cid].status == "rejected"
    assert sent(cloud, case.edge_id) == []
    assert await cloud.inflight.count() == 0
    assert await cloud.queue.edges_with_queues() == []


@pytest.mark.asyncio
async def test_values_at_the_limits_are_accepted(cloud: Cloud) -> None:
    await cloud.connect(A)
    cloud.telemetry(A, 3000.0, 4000, at_s=cloud.clock.time() - 30.0)  # exactly max_age_s old
    values: list[object] = [-3000.0, 4000, 0, -0.0]
    acks = [
        await cloud.submit(cloud.command(command_id(i), A, value))
        for i, value in enumerate(values, start=1)
    ]
    assert [a.status for a in acks] == ["received"] * 4
    mode = await cloud.submit(cloud.command(command_id(9), A, "auto", action=SET_MODE))
    assert mode.status == "received"
    admin = await cloud.submit(cloud.command(command_id(10), A, 1.5), role="admin")
    assert admin.status == "received"


@pytest.mark.asyncio
async def test_checks_run_in_order_and_queued_commands_skip_dynamic_limits(
    cloud: Cloud,
) -> None:
    # The role comes before the payload.
    viewer = await cloud.submit(cloud.command(command_id(1), A, "fast"), role="viewer")
    assert viewer.reason == "forbidden"
    # An offline edge: static checks still apply ...
    unknown = await cloud.submit(cloud.command(command_id(2), A, 1.0, device="nope1"))
    assert unknown.reason == "unknown_device"
    too_big = await cloud.submit(cloud.command(command_id(3), A, 2e6))
    assert too_big.reason == "out_of_range"
    # ... but not the dynamic ones: the edge revalidates a queued command when it runs.
    beyond = await cloud.submit(cloud.command(command_id(4), A, 9000.0))
    assert beyond.status == "queued"
    await cloud.connect(A)  # no telemetry at all: it goes out anyway
    assert sent(cloud) == [command_id(4)]
    assert cloud.peers[A].received[0].frame.value == 9000.0


@pytest.mark.asyncio
async def test_a_command_for_an_edge_not_granted_is_forbidden_whether_it_exists_or_not(
    cloud: Cloud,
) -> None:
    await online(cloud)
    granted = frozenset({"edge-elsewhere"})
    other = await cloud.submit(cloud.command(command_id(1), A, 1000.0), edges=granted)
    missing = await cloud.submit(cloud.command(command_id(2), "edge-z", 1000.0), edges=granted)
    assert (other.status, other.reason) == ("rejected", "forbidden")
    assert (missing.status, missing.reason) == ("rejected", "forbidden")  # not unknown_edge
    assert sent(cloud) == []
    # The same user with the edge granted (or every edge: None) gets through.
    ok = await cloud.submit(cloud.command(command_id(3), A, 1000.0), edges=frozenset({A}))
    assert ok.status == "received"
    assert sent(cloud) == [command_id(3)]


@pytest.mark.asyncio
async def test_a_command_id_used_again_is_rejected_as_replay(cloud: Cloud) -> None:
    await online(cloud)
    cid = command_id(1)
    first = await cloud.submit(cloud.command(cid, A, 1000.0))
    again = await cloud.submit(cloud.command(cid, A, -2000.0, ttl_s=5))
    assert first.status == "received"
    assert (again.status, again.reason, again.command_id) == ("rejected", "replay", cid)
    assert cloud.acks() == [first, again]
    # The original keeps its own course; listeners hear nothing about the replay.
    assert cloud.dispatcher.commands[cid].status == "received"
    assert heard(cloud) == [(cid, "received", None)]
    assert sent(cloud) == [cid]
    await cloud.ack(A, cid, "executed")
    assert cloud.statuses(cid)[-1] == ("executed", None)
    # A rejected command's id is used up too.
    bad = command_id(2)
    await cloud.submit(cloud.command(bad, A, 1e9))
    assert (await cloud.submit(cloud.command(bad, A, 1.0))).reason == "replay"


@pytest.mark.asyncio
async def test_a_full_queue_rejects_with_queue_full() -> None:
    cloud = Cloud(queue_limit=2)
    try:
        acks = [await cloud.submit(cloud.command(command_id(i), A)) for i in range(1, 4)]
        assert [(a.status, a.reason) for a in acks] == [
            ("queued", None),
            ("queued", None),
            ("rejected", "queue_full"),
        ]
        assert await cloud.queue.depth(A) == 2
        other = await cloud.submit(cloud.command(command_id(4), B))
        assert other.status == "queued"  # the limit is per edge
        await cloud.connect(A)
        assert sent(cloud) == [command_id(1), command_id(2)]
        assert (await cloud.submit(cloud.command(command_id(5), A, ttl_s=1))).status == "rejected"
    finally:
        await cloud.aclose()


@pytest.mark.asyncio
async def test_without_queueing_an_offline_edge_is_rejected_as_edge_offline() -> None:
    cloud = Cloud(queue_offline=False)
    try:
        ack = await cloud.submit(cloud.command(command_id(1), A))
        assert (ack.status, ack.reason) == ("rejected", "edge_offline")
        assert await cloud.queue.edges_with_queues() == []
        await online(cloud)
        assert (await cloud.submit(cloud.command(command_id(2), A))).status == "received"
        assert sent(cloud) == [command_id(2)]
    finally:
        await cloud.aclose()


# -- received, in flight ---------------------------------------------------------


@pytest.mark.asyncio
async def test_a_command_for_a_connected_edge_goes_out_with_a_deadline(cloud: Cloud) -> None:
    await online(cloud)
    await cloud.advance(0.25)
    now = cloud.clock.time()
    cid = command_id(1)
    cmd = cloud.command(cid, A, -1500.0, ttl_s=30)

    ack = await cloud.submit(cmd)

    assert (ack.status, ack.reason, ack.detail) == ("received", None, f"sent to {A}")
    assert await cloud.inflight.count() == 1
    [seen] = cloud.peers[A].received
    frame = seen.frame
    assert (frame.command_id, frame.device, frame.action, frame.value, frame.user) == (
        cid,
        BATTERY,
        SET_POWER,
        -1500.0,
        USER,
    )
    to_the_ms = cmd.issued_at.microsecond // 1000 * 1000
    assert frame.issued_at == cmd.issued_at.replace(microsecond=to_the_ms)
    # The watchdog's deadline, as the wire carries it (milliseconds).
    assert 0 <= now + WATCHDOG_S - frame.deadline.timestamp() < 0.001
    assert heard(cloud) == shown(cloud) == [(cid, "received", None)]


@pytest.mark.asyncio
async def test_progress_then_one_final_status_from_the_edge(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    await online(cloud)
    cid = command_id(1)
    await cloud.submit(cloud.command(cid, A))
    await cloud.ack(A, cid, "delivered")
    await cloud.ack(A, cid, "executed")
    await cloud.ack(A, cid, "executed")  # the edge says it again (a duplicate delivery)
    await cloud.ack(A, cid, "delivered")  # late progress after the final status
    await cloud.ack(A, cid, "failed", "revalidation_failed")
    assert cloud.statuses(cid) == [("received", None), ("delivered", None), ("executed", None)]
    assert heard(cloud) == shown(cloud)
    assert await cloud.inflight.count() == 0
    assert audited(caplog, "cloud.late_ack") == [cid, cid]
    await cloud.advance(WATCHDOG_S + 1)
    assert await cloud.dispatcher.watchdog_pass() == 0


@pytest.mark.asyncio
async def test_the_edge_can_refuse_or_fail_a_command(cloud: Cloud) -> None:
    await online(cloud)
    refused, failed = command_id(1), command_id(2)
    await cloud.submit(cloud.command(refused, A))
    await cloud.submit(cloud.command(failed, A))
    await cloud.ack(A, refused, "rejected", "unknown_device")
    await cloud.ack(A, failed, "delivered")
    await cloud.ack(A, failed, "failed", "revalidation_failed")
    assert cloud.statuses(refused)[-1] == ("rejected", "unknown_device")
    assert cloud.statuses(failed) == [
        ("received", None),
        ("delivered", None),
        ("failed", "revalidation_failed"),
    ]
    assert await cloud.inflight.count() == 0


@pytest.mark.asyncio
async def test_an_ack_from_another_edge_changes_nothing(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    await online(cloud, A)
    await online(cloud, B)
    cid = command_id(1)
    await cloud.submit(cloud.command(cid, A))
    await cloud.ack(B, cid, "executed")
    assert cloud.statuses(cid) == [("received", None)]
    assert await cloud.inflight.count() == 1
    assert audited(caplog, "cloud.ack_wrong_edge") == [cid]
    await cloud.ack(A, cid, "executed")
    assert cloud.statuses(cid)[-1] == ("executed", None)


@pytest.mark.asyncio
async def test_an_ack_for_an_unknown_command_is_only_audited(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    await online(cloud)
    await cloud.ack(A, command_id(7), "executed")
    await cloud.ack(A, command_id(8), "delivered")
    assert cloud.acks() == []
    assert cloud.heard == []
    assert audited(caplog, "cloud.late_ack") == [command_id(7)]


# -- the watchdog ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_no_final_status_by_the_deadline_fails_with_edge_timeout_once(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    await online(cloud)
    cid = command_id(1)
    await cloud.submit(cloud.command(cid, A))
    await cloud.ack(A, cid, "delivered")
    deadline = cloud.peers[A].received[0].frame.deadline.timestamp()
    await cloud.advance(WATCHDOG_S - 0.01)
    assert await cloud.dispatcher.watchdog_pass() == 0
    await cloud.advance(0.01)
    assert cloud.clock.time() >= deadline
    assert await cloud.dispatcher.watchdog_pass() == 1
    assert await cloud.dispatcher.watchdog_pass() == 0
    assert cloud.statuses(cid) == [
        ("received", None),
        ("delivered", None),
        ("failed", "edge_timeout"),
    ]
    # The edge answers late (it must have refused it at its deadline): audit only.
    await cloud.ack(A, cid, "failed", "expired")
    await cloud.ack(A, cid, "executed")
    await cloud.ack(A, cid, "delivered")
    assert cloud.statuses(cid)[-1] == ("failed", "edge_timeout")
    assert len(cloud.acks(cid)) == 3
    assert heard(cloud) == shown(cloud)
    assert audited(caplog, "cloud.late_ack") == [cid, cid]


@pytest.mark.asyncio
async def test_the_edge_deadline_leaves_the_ack_time_to_come_back_before_the_watchdog() -> None:
    """Found by the chaos suite: with the watchdog's own moment as the edge's deadline,
    an edge could apply a command just before it and its "executed" ack arrive after
    the watchdog had reported edge_timeout: executed, yet shown as failed."""
    cloud = Cloud(ack_allowance_s=1.5)
    try:
        await online(cloud)
        now = cloud.clock.time()
        cid = command_id(1)
        await cloud.submit(cloud.command(cid, A))
        deadline = cloud.peers[A].received[0].frame.deadline.timestamp()
        assert deadline == pytest.approx(now + WATCHDOG_S - 1.5, abs=0.001)
        # The edge applies it at the last moment it may; its ack takes 1.4 s to arrive.
        await cloud.advance(WATCHDOG_S - 1.5 + 1.4)
        assert await cloud.dispatcher.watchdog_pass() == 0
        await cloud.ack(A, cid, "executed")
        assert cloud.statuses(cid) == [("received", None), ("executed", None)]
    finally:
        await cloud.aclose()


def test_an_ack_allowance_as_long_as_the_watchdog_is_refused() -> None:
    with pytest.raises(ValueError, match="ack_allowance_s"):
        Cloud(watchdog_s=5.0, ack_allowance_s=5.0)


@pytest.mark.asyncio
async def test_a_send_to_a_gone_socket_still_ends_in_edge_timeout(cloud: Cloud) -> None:
    cloud.attach(A, broken=True)  # registered, but its socket is already closed
    cloud.telemetry(A)
    cid = command_id(1)
    assert (await cloud.submit(cloud.command(cid, A))).status == "received"
    assert sent(cloud) == []
    await cloud.advance(WATCHDOG_S)
    assert await cloud.dispatcher.watchdog_pass() == 1
    assert cloud.statuses(cid)[-1] == ("failed", "edge_timeout")


# -- the offline queue -------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_command_for_an_offline_edge_is_queued_with_its_position(cloud: Cloud) -> None:
    acks = [await cloud.submit(cloud.command(command_id(i), A, ttl_s=30)) for i in range(1, 4)]
    other = await cloud.submit(cloud.command(command_id(4), B, ttl_s=7))
    assert [a.status for a in [*acks, other]] == ["queued"] * 4
    assert [a.detail for a in acks] == [
        f"{A} is offline; position {n}, expires in 30 s" for n in (1, 2, 3)
    ]
    assert other.detail == f"{B} is offline; position 1, expires in 7 s"
    assert (await cloud.queue.depth(A), await cloud.queue.depth(B)) == (3, 1)
    assert await cloud.inflight.count() == 0
    assert heard(cloud) == [(command_id(i), "queued", None) for i in range(1, 5)]


@pytest.mark.asyncio
async def test_a_reconnecting_edge_gets_its_queue_in_submit_order(cloud: Cloud) -> None:
    for i in range(1, 4):
        await cloud.submit(cloud.command(command_id(i), A, float(i)))
    await cloud.submit(cloud.command(command_id(9), B))

    cloud.attach(A)
    cloud.dispatcher.drain(A)
    # Sent while the queue drains: it lines up behind the older ones.
    late = await cloud.dispatcher.submit(USER, "operator", cloud.command(command_id(4), A, 4.0))
    await cloud.settle()

    assert late.status == "queued"
    assert sent(cloud, A) == [command_id(i) for i in range(1, 5)]
    assert [s.frame.value for s in cloud.peers[A].received] == [1.0, 2.0, 3.0, 4.0]
    assert sent(cloud, B) == []
    assert await cloud.queue.depth(A) == 0
    assert await cloud.queue.depth(B) == 1
    assert await cloud.inflight.count() == 4
    for i in range(1, 5):
        await cloud.ack(A, command_id(i), "executed")
        assert cloud.statuses(command_id(i)) == [("queued", None), ("executed", None)]
    # Drained and online: the next command goes out at once.
    cloud.telemetry(A)
    assert (await cloud.submit(cloud.command(command_id(5), A))).status == "received"


@pytest.mark.asyncio
async def test_an_expired_command_is_failed_at_drain_time_and_never_sent(cloud: Cloud) -> None:
    short, long = command_id(1), command_id(2)
    await cloud.submit(cloud.command(short, A, ttl_s=2))
    await cloud.submit(cloud.command(long, A, ttl_s=60))
    await cloud.advance(2.0)  # exactly its ttl: expired
    await cloud.connect(A)  # no expiry pass ran: the drain finds it
    assert cloud.statuses(short) == [("queued", None), ("failed", "timeout_in_queue")]
    assert sent(cloud) == [long]
    assert await cloud.dispatcher.expiry_pass() == 0
    assert heard(cloud) == shown(cloud)


@pytest.mark.asyncio
async def test_the_expiry_pass_fails_what_waited_past_its_ttl(cloud: Cloud) -> None:
    first, second = command_id(1), command_id(2)
    await cloud.submit(cloud.command(first, A, ttl_s=5))
    await cloud.advance(1.0)
    await cloud.submit(cloud.command(second, A, ttl_s=5))
    await cloud.advance(3.99)
    assert await cloud.dispatcher.expiry_pass() == 0
    await cloud.advance(0.01)
    assert await cloud.dispatcher.expiry_pass() == 1
    assert cloud.statuses(first)[-1] == ("failed", "timeout_in_queue")
    assert cloud.statuses(second) == [("queued", None)]
    await cloud.connect(A)
    assert sent(cloud) == [second]
    assert cloud.statuses(first)[-1] == ("failed", "timeout_in_queue")  # once
    assert len(cloud.acks(first)) == 2


@pytest.mark.asyncio
async def test_a_send_that_fails_puts_the_command_back_in_front(cloud: Cloud) -> None:
    for i in range(1, 3):
        await cloud.submit(cloud.command(command_id(i), A))
    await cloud.connect(A, broken=True)  # the socket is gone before the first send
    assert sent(cloud) == []
    assert await cloud.queue.depth(A) == 2
    assert await cloud.inflight.count() == 0
    # Still registered, queue not empty: a new command waits behind the others.
    assert (await cloud.submit(cloud.command(command_id(3), A))).status == "queued"
    await cloud.connect(A)  # a healthy connection replaces it
    assert sent(cloud) == [command_id(i) for i in range(1, 4)]
    assert all(cloud.statuses(command_id(i)) == [("queued", None)] for i in range(1, 4))


@pytest.mark.asyncio
async def test_a_failed_send_leaves_other_edges_deliveries_alone(cloud: Cloud) -> None:
    """Regression: the failed edge's recovery put back what another edge was being sent.

    Edge A's drain is held right after it sent A's command, before it
    confirmed the delivery; meanwhile A refuses the command, and edge B
    connects with a dead socket, so B's send fails and B's command goes back
    in its queue. A must get its command once and the dashboard one terminal
    status for it (the edge answers a duplicate with the status it gave).
    """
    a_cmd, b_cmd = command_id(1), command_id(2)
    await cloud.submit(cloud.command(a_cmd, A))
    await cloud.submit(cloud.command(b_cmd, B))
    peer_a = cloud.attach(A)
    answers: list[asyncio.Task[None]] = []
    peer_a.on_frame = lambda seen: answers.append(
        asyncio.create_task(cloud.ack(A, seen.frame.command_id, "rejected", "unknown_device"))
    )
    held, resume = asyncio.Event(), asyncio.Event()

    async def hold(call: str, edge_id: str) -> None:
        if call == "delivered" and edge_id == A and not held.is_set():
            held.set()
            await resume.wait()

    cloud.latency.hook = hold
    cloud.dispatcher.drain(A)
    await held.wait()
    await asyncio.gather(*answers)
    cloud.attach(B, broken=True)
    cloud.dispatcher.drain(B)
    await cloud.latency.returned("recover")  # B's failed send put B's command back
    resume.set()
    await cloud.settle()

    assert sent(cloud, A) == [a_cmd]
    assert cloud.statuses(a_cmd) == [("queued", None), ("rejected", "unknown_device")]
    assert cloud.statuses(b_cmd) == [("queued", None)]
    assert (await cloud.queue.depth(A), await cloud.queue.depth(B)) == (0, 1)
    assert await cloud.inflight.count() == 0


@pytest.mark.asyncio
async def test_a_command_queued_while_its_edge_connects_is_delivered(cloud: Cloud) -> None:
    """Regression: submit saw the edge offline; the edge connected and drained an empty
    queue before the command landed in it, and nothing drained it again."""
    cid = command_id(1)
    connected = False

    async def connect_first(call: str, edge_id: str) -> None:
        nonlocal connected
        if call == "push" and not connected:
            connected = True
            cloud.attach(A)
            cloud.dispatcher.drain(A)
            for _ in range(50):  # its drain finds the queue empty and ends
                await asyncio.sleep(0)

    cloud.latency.hook = connect_first
    ack = await cloud.submit(cloud.command(cid, A))

    assert connected
    assert ack.status == "queued"
    assert sent(cloud) == [cid]
    assert await cloud.queue.depth(A) == 0


@pytest.mark.asyncio
async def test_statuses_that_overtake_the_immediate_ack_come_after_it(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (found by the concurrent lifecycle model): the edge connected while
    submit waited for the push's reply, and delivered and executed the command before
    submit could say ``queued``. The dashboard and the listeners still hear ``queued``
    first."""
    cid = command_id(1)
    push = cloud.queue.push

    async def push_then_connect(*args: Any, **kwargs: Any) -> PushResult:
        pushed = await push(*args, **kwargs)
        peer = cloud.attach(A)  # before the reply reaches submit
        cloud.dispatcher.drain(A)
        await asyncio.wait_for(cloud.latency.returned("delivered"), 5)  # the drain sent it
        assert [f.frame.command_id for f in peer.received] == [cid]
        await cloud.ack(A, cid, "delivered")
        await cloud.ack(A, cid, "executed")
        return pushed

    monkeypatch.setattr(cloud.queue, "push", push_then_connect)
    ack = await cloud.submit(cloud.command(cid, A))

    assert ack.status == "queued"
    assert sent(cloud) == [cid]
    assert cloud.statuses(cid) == [("queued", None), ("delivered", None), ("executed", None)]
    assert [a.status for _, a in cloud.heard] == ["queued", "delivered", "executed"]


# -- listeners -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_listeners_hear_every_status_change(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[UiAck] = []

    def broken(_tracked: object, _ack: UiAck) -> None:
        raise RuntimeError("a listener that fails")

    cloud.dispatcher.listeners.insert(0, broken)
    cloud.dispatcher.listeners.append(lambda _t, ack: calls.append(ack))

    queued_then_expired, queued_then_sent = command_id(1), command_id(2)
    await cloud.submit(cloud.command(queued_then_expired, A, ttl_s=1))
    await cloud.submit(cloud.command(queued_then_sent, B, ttl_s=60))
    await cloud.advance(1.0)
    await cloud.dispatcher.expiry_pass()
    await online(cloud, A)
    await online(cloud, B)
    executed, timed_out, rejected = command_id(3), command_id(4), command_id(5)
    await cloud.submit(cloud.command(executed, A))
    await cloud.submit(cloud.command(timed_out, A))
    await cloud.submit(cloud.command(rejected, A, 99_999.0))
    await cloud.ack(A, executed, "delivered")
    await cloud.ack(A, executed, "executed")
    await cloud.ack(B, queued_then_sent, "failed", "revalidation_failed")
    await cloud.advance(WATCHDOG_S)
    await cloud.dispatcher.watchdog_pass()

    assert sorted(heard(cloud)) == sorted(
        [
            (queued_then_expired, "queued", None),
            (queued_then_expired, "failed", "timeout_in_queue"),
            (queued_then_sent, "queued", None),
            (queued_then_sent, "failed", "revalidation_failed"),
            (executed, "received", None),
            (executed, "delivered", None),
            (executed, "executed", None),
            (timed_out, "received", None),
            (timed_out, "failed", "edge_timeout"),
            (rejected, "rejected", "exceeds_dynamic_limit"),
        ]
    )
    assert heard(cloud) == shown(cloud)  # same order as the dashboard's
    assert [(a.command_id, a.status, a.reason) for a in calls] == heard(cloud)
    for tracked, ack in cloud.heard:
        assert cloud.dispatcher.commands[tracked.command_id] is tracked
        assert tracked.edge_id == ack.edge_id
    failures = [r for r in caplog.records if r.getMessage() == "command status listener failed"]
    assert len(failures) == len(calls)
