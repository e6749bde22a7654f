"""The command lifecycle (DESIGN section 4) as a state machine against a real Dispatcher.

Hypothesis drives the cloud only through its public face: the dashboard
submits commands (and replays a command id), edges connect (their queue
drains), disconnect, answer, answer again and receive a command again,
virtual time passes, the watchdog and the queue-expiry pass run. The
dispatcher is the real one, on the embedded store and a virtual clock
(``dispatch_fakes.Cloud``); each store call takes a random number of event
loop turns, so the tasks of one step interleave differently from example to
example.

The edges are models of the real edge's rules: a command is executed at most
once (a command id seen before is answered with the status it already has),
nothing is executed at or after the ``deadline`` the cloud sent
(``failed(expired)`` instead), acks wait in an outbox while the link is down
or slow. After every step, and once more after time has passed every deadline
and ttl, the machine checks:

- the dashboard's acks for each command: a valid sequence, the first one as
  the model predicts (``received``, ``queued`` or the ``rejected`` reason), at
  most one terminal status and nothing after it (exactly one at the end); the
  status listeners saw exactly those statuses;
- per edge, commands arrive in submit order (FIFO), each at most once (nothing
  here crashes, so nothing is legitimately delivered twice), a queued one
  only before its ttl ran out, with the watchdog's own ``deadline`` (at most
  1 ms earlier: the wire keeps milliseconds);
- ``timeout_in_queue`` only for a command never sent, after its ttl;
  ``edge_timeout`` only once the edge's deadline passed; ``executed`` only for
  what the edge executed, and the edge never executes a command whose
  terminal status the dashboard already has;
- nothing waits in the queue of an edge that is connected and healthy.

``test_lifecycle`` runs the steps one at a time (each step's tasks run to
completion before the next). ``test_lifecycle_concurrent`` adds a backlog at
start, both edges reconnecting at once, and a submit racing a connect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from dispatch_fakes import (
    BATTERY,
    EDGES,
    MAX_AGE_S,
    SET_MODE,
    SET_POWER,
    USER,
    Cloud,
    FakePeer,
    Seen,
    command_id,
)
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ems.protocol import CloudToEdgeCommand, UiAck

T = TypeVar("T")

QUEUE_LIMIT = 4
WATCHDOG_S = 5.0
MAX_TTL_S = 60
LIMIT_W = 5000.0  # what the batteries report as MaxChargePower and MaxDischargePower
TERMINAL = frozenset({"rejected", "executed", "failed"})
WIRE_PRECISION_S = 0.001  # timestamps travel as RFC 3339 with milliseconds
EPSILON_S = 1e-6  # float noise of epoch seconds (~0.24 µs apart near 2026)

edges = st.sampled_from(EDGES)
#: Mostly healthy connections; sometimes one whose socket is already gone.
broken_flags = st.sampled_from([False, False, False, True])
#: A battery setpoint (some beyond the reported limits) or a mode.
values = st.one_of(st.integers(-6000, 6000).map(float), st.sampled_from(["manual", "auto"]))
#: (edge, value, ttl_s, refuse): ``refuse``, the edge refuses it on arrival.
commands = st.tuples(
    edges, values, st.integers(1, MAX_TTL_S), st.sampled_from([False, False, False, True])
)

Pair = tuple[str, str]  # (edge id, command id)


@dataclass
class Submitted:
    """What the model knows about one command the dashboard submitted."""

    cid: str
    edge: str
    action: str
    value: object
    ttl_s: int
    at_s: float
    refuse: bool
    first: tuple[str, str | None] = ("", None)  # the immediate ack: (status, reason)

    @property
    def expires_at_s(self) -> float:
        return self.at_s + self.ttl_s


class EdgeModel:
    """One edge: at most once, never past the deadline, acks through an outbox."""

    def __init__(self) -> None:
        self.frames: list[Seen[CloudToEdgeCommand]] = []  # every command frame the cloud sent
        self.first: dict[str, Seen[CloudToEdgeCommand]] = {}
        self.answer: dict[str, tuple[str, str | None]] = {}  # the latest status it gave
        self.executed_at: dict[str, float] = {}
        self.outbox: list[tuple[str, str, str | None]] = []
        self.flusher: asyncio.Task[None] | None = None


def _deadline(seen: Seen[CloudToEdgeCommand]) -> float:
    return seen.frame.deadline.timestamp()


async def _make_cloud() -> Cloud:
    return Cloud(queue_limit=QUEUE_LIMIT, watchdog_s=WATCHDOG_S)


class DispatchLifecycle(RuleBasedStateMachine):
    """One cloud process, two edges, one dashboard user; one event loop per example."""

    concurrent = False

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.cloud = self.loop.run_until_complete(_make_cloud())
        self.edges = {edge_id: EdgeModel() for edge_id in EDGES}
        self.submitted: dict[str, Submitted] = {}
        self.order: dict[str, list[str]] = {edge_id: [] for edge_id in EDGES}  # accepted ones
        self.telemetry_at: dict[str, float | None] = dict.fromkeys(EDGES)
        self.counter = 0

    # -- plumbing ------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one step on this example's loop, then every task it started."""

        async def step() -> T:
            result = await coro
            await self.cloud.settle()
            return result

        return self.loop.run_until_complete(step())

    def now(self) -> float:
        return self.cloud.clock.time()

    def healthy(self, edge_id: str) -> bool:
        session = self.cloud.hub.edges.get(edge_id)
        if session is None:
            return False
        peer = self.cloud.peers[edge_id]
        return session.peer is peer.as_peer and not (peer.broken or peer.closed)

    def attach(self, edge_id: str, broken: bool, telemetry: bool) -> FakePeer[CloudToEdgeCommand]:
        peer = self.cloud.attach(edge_id, broken)
        peer.on_frame = lambda seen: self.receive(edge_id, seen)
        if telemetry and not broken:
            self.send_telemetry(edge_id)
        return peer

    def connect_now(self, edge_id: str, broken: bool, telemetry: bool) -> None:
        """What the edge endpoint does on a connect: attach, drain; the edge sends its outbox."""
        self.attach(edge_id, broken, telemetry)
        self.cloud.dispatcher.drain(edge_id)
        self.flush_soon(edge_id)

    def send_telemetry(self, edge_id: str, age_s: float = 0.0) -> None:
        at_s = self.now() - age_s
        self.cloud.telemetry(edge_id, LIMIT_W, LIMIT_W, at_s=at_s)
        self.telemetry_at[edge_id] = at_s

    def receive(self, edge_id: str, seen: Seen[CloudToEdgeCommand], again: bool = False) -> None:
        """The edge reads a command frame (``again``: a copy handed to it once more)."""
        edge = self.edges[edge_id]
        cid = seen.frame.command_id
        if not again:
            edge.frames.append(seen)
        if cid in edge.first:
            # At most once: where the command stands is all the cloud hears.
            edge.outbox.append((cid, *edge.answer[cid]))
        else:
            edge.first[cid] = seen
            if seen.at_s >= _deadline(seen):
                answer: tuple[str, str | None] = ("failed", "expired")
            elif self.submitted[cid].refuse:
                answer = ("rejected", "unknown_device")
            else:
                answer = ("delivered", None)
            edge.answer[cid] = answer
            edge.outbox.append((cid, *answer))
        self.flush_soon(edge_id)

    def flush_soon(self, edge_id: str) -> None:
        """The edge sends its outbox, in order, while its connection is healthy."""
        edge = self.edges[edge_id]
        if edge.flusher is None or edge.flusher.done():
            edge.flusher = self.loop.create_task(self.flush(edge_id))

    async def flush(self, edge_id: str) -> None:
        edge = self.edges[edge_id]
        while edge.outbox and self.healthy(edge_id):
            cid, status, reason = edge.outbox.pop(0)
            await self.cloud.ack(edge_id, cid, status, reason)

    # -- the model -------------------------------------------------------------
    def ui_acks(self, cid: str) -> list[Seen[UiAck]]:
        """The dashboard's acks for ``cid``, but not those refusing a replay of it."""
        return [
            s
            for s in self.cloud.ui.received
            if s.frame.command_id == cid and s.frame.reason != "replay"
        ]

    def terminal(self, cid: str) -> Seen[UiAck] | None:
        return next((s for s in self.ui_acks(cid) if s.frame.status in TERMINAL), None)

    def waiting(self, edge_id: str) -> list[str]:
        """The edge's queue as the model sees it: queued, never sent, not finished."""
        edge = self.edges[edge_id]
        return [
            cid
            for cid in self.order[edge_id]
            if self.submitted[cid].first[0] == "queued"
            and cid not in edge.first
            and self.terminal(cid) is None
        ]

    def predict(self, edge_id: str, action: str, value: object) -> tuple[str, str | None]:
        """The immediate ack DESIGN section 4 calls for (static limits always fit here)."""
        waiting = self.waiting(edge_id)
        if edge_id in self.cloud.hub.edges and not waiting:
            if action == SET_POWER:
                at = self.telemetry_at[edge_id]
                if at is None:
                    return ("rejected", "no_telemetry")
                if self.now() - at > MAX_AGE_S:
                    return ("rejected", "stale_telemetry")
                assert isinstance(value, float)
                if not -LIMIT_W <= value <= LIMIT_W:
                    return ("rejected", "exceeds_dynamic_limit")
            return ("received", None)
        if len(waiting) >= QUEUE_LIMIT:
            return ("rejected", "queue_full")
        return ("queued", None)

    def new_command(self, edge_id: str, value: object, ttl_s: int, refuse: bool) -> Submitted:
        self.counter += 1
        action = SET_POWER if isinstance(value, float) else SET_MODE
        submitted = Submitted(
            command_id(self.counter), edge_id, action, value, ttl_s, self.now(), refuse
        )
        self.submitted[submitted.cid] = submitted
        return submitted

    def accepted(self, submitted: Submitted, ack: UiAck) -> None:
        submitted.first = (ack.status, ack.reason)
        event(f"submit: {ack.status} {ack.reason or ''}".strip())
        if ack.status != "rejected":
            self.order[submitted.edge].append(submitted.cid)

    def _count_reason(self, reason: str) -> int:
        return sum(1 for s in self.cloud.ui.received if s.frame.reason == reason)

    def _in_progress(self) -> list[Pair]:
        return [
            (edge_id, cid)
            for edge_id, edge in self.edges.items()
            for cid, (status, _) in edge.answer.items()
            if status == "delivered"
        ]

    def _answered(self) -> list[Pair]:
        return [(edge_id, cid) for edge_id, edge in self.edges.items() for cid in edge.answer]

    # -- set-up ------------------------------------------------------------------
    @initialize(seed=st.integers(0, 2**32 - 1))
    def store_latency(self, seed: int) -> None:
        """How many loop turns each store call takes, for this example.

        A plain generator seeded once: its draws happen inside tasks, where
        Hypothesis's own data must not be touched.
        """
        self.cloud.latency.rng = random.Random(seed)

    @initialize(online=st.booleans())
    def start_online(self, online: bool) -> None:
        """Both edges connected and reporting from the start, or both offline."""
        if online:
            for edge_id in EDGES:
                self.connect(edge_id, broken=False, telemetry=True)

    # -- rules: the dashboard ----------------------------------------------------
    @rule(batch=st.lists(commands, min_size=1, max_size=3))
    def submit(self, batch: list[tuple[str, object, int, bool]]) -> None:
        """The dashboard sends one command, or a few in a row."""
        for edge_id, value, ttl_s, refuse in batch:
            submitted = self.new_command(edge_id, value, ttl_s, refuse)
            expected = self.predict(edge_id, submitted.action, value)
            cmd = self.cloud.command(
                submitted.cid, edge_id, value, action=submitted.action, ttl_s=ttl_s
            )
            ack = self.run(self.cloud.dispatcher.submit(USER, "operator", cmd))
            assert (ack.status, ack.reason) == expected, (submitted, ack)
            self.accepted(submitted, ack)

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A command id used again: refused, and the original keeps its course."""
        cid = data.draw(st.sampled_from(sorted(self.submitted)), label="replayed")
        original = self.submitted[cid]
        status_before = self.cloud.dispatcher.commands[cid].status
        heard_before = len(self.cloud.heard)
        cmd = self.cloud.command(cid, original.edge, 0.0, ttl_s=original.ttl_s)
        ack = self.run(self.cloud.dispatcher.submit(USER, "operator", cmd))
        assert (ack.status, ack.reason) == ("rejected", "replay")
        assert self.cloud.dispatcher.commands[cid].status == status_before
        assert len(self.cloud.heard) == heard_before

    # -- rules: edges ------------------------------------------------------------
    @rule(edge_id=edges, broken=broken_flags, telemetry=st.booleans())
    def connect(self, edge_id: str, broken: bool, telemetry: bool) -> None:
        """The edge connects (replacing an older connection); its queue drains.

        ``telemetry`` False: it has sent none yet (or none since it connected before).
        """

        async def go() -> None:
            self.connect_now(edge_id, broken, telemetry)

        self.run(go())

    @precondition(lambda self: bool(self.cloud.hub.edges))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        edge_id = data.draw(st.sampled_from(sorted(self.cloud.hub.edges)), label="edge")
        self.cloud.detach(edge_id)
        self.telemetry_at[edge_id] = None  # the hub forgets a gone edge's telemetry

    @precondition(lambda self: bool(self._in_progress()))
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["executed", "executed", "failed"]),
        send_now=st.booleans(),
    )
    def edge_finishes(self, data: st.DataObject, outcome: str, send_now: bool) -> None:
        """A controller cycle takes a delivered command: executed or failed, or
        ``failed(expired)`` at or after its deadline. ``send_now`` False: the
        final ack waits in the outbox (a slow link)."""
        edge_id, cid = data.draw(st.sampled_from(sorted(self._in_progress())), label="pair")
        edge = self.edges[edge_id]
        if self.now() >= _deadline(edge.first[cid]):
            answer: tuple[str, str | None] = ("failed", "expired")
        elif outcome == "executed":
            already = self.terminal(cid)
            assert already is None, f"{cid} about to run, but the dashboard saw {already}"
            edge.executed_at[cid] = self.now()
            answer = ("executed", None)
        else:
            answer = ("failed", "revalidation_failed")
        event(f"edge: {answer[0]} {answer[1] or ''}".strip())
        edge.answer[cid] = answer
        edge.outbox.append((cid, *answer))
        if send_now:
            self.flush_soon(edge_id)
            self.run(asyncio.sleep(0))

    @precondition(lambda self: any(e.outbox for e in self.edges.values()))
    @rule()
    def edges_send_outbox(self) -> None:
        for edge_id in EDGES:
            self.flush_soon(edge_id)
        self.run(asyncio.sleep(0))

    @precondition(lambda self: bool(self._answered()))
    @rule(data=st.data())
    def edge_answers_again(self, data: st.DataObject) -> None:
        """The edge repeats the latest status it gave (a duplicate ack)."""
        edge_id, cid = data.draw(st.sampled_from(sorted(self._answered())), label="pair")
        edge = self.edges[edge_id]
        edge.outbox.append((cid, *edge.answer[cid]))
        self.flush_soon(edge_id)
        self.run(asyncio.sleep(0))

    @precondition(lambda self: any(e.frames for e in self.edges.values()))
    @rule(data=st.data())
    def edge_receives_again(self, data: st.DataObject) -> None:
        """A command frame reaches the edge once more: answered, not executed again."""
        edge_id = data.draw(st.sampled_from([e for e in EDGES if self.edges[e].frames]))
        seen = data.draw(st.sampled_from(self.edges[edge_id].frames), label="frame")
        executed = dict(self.edges[edge_id].executed_at)

        async def go() -> None:
            self.receive(edge_id, Seen(seen.frame, self.now()), again=True)

        self.run(go())
        assert self.edges[edge_id].executed_at == executed

    @precondition(lambda self: any(self.healthy(e) for e in EDGES))
    @rule(age_s=st.sampled_from([0.0, 0.0, MAX_AGE_S + 15.0]))
    def edges_send_telemetry(self, age_s: float) -> None:
        """The connected edges report their battery limits, sampled ``age_s`` ago
        (an old sample: the next setpoint for them is refused as stale)."""
        for edge_id in EDGES:
            if self.healthy(edge_id):
                self.send_telemetry(edge_id, age_s)

    # -- rules: time and the cloud's workers ---------------------------------------
    @rule(seconds=st.floats(0.1, 10.0), telemetry=st.sampled_from([True, False, False]))
    def advance(self, seconds: float, telemetry: bool) -> None:
        """Time passes; the connected edges report telemetry meanwhile, or go quiet
        (their telemetry ages towards ``stale_telemetry``)."""
        self.run(self.cloud.advance(seconds))
        if telemetry:
            self.edges_send_telemetry(0.0)

    @rule()
    def watchdog_pass(self) -> None:
        before = self._count_reason("edge_timeout")
        claimed = self.run(self.cloud.dispatcher.watchdog_pass())
        assert self._count_reason("edge_timeout") - before <= claimed

    @rule()
    def expiry_pass(self) -> None:
        before = self._count_reason("timeout_in_queue")
        expired = self.run(self.cloud.dispatcher.expiry_pass())
        assert self._count_reason("timeout_in_queue") - before == expired

    # -- rules: concurrency (ConcurrentDispatchLifecycle only) ---------------------
    @precondition(lambda self: self.concurrent)
    @rule(
        first=edges,
        broken_a=st.booleans(),
        broken_b=st.booleans(),
        gap=st.integers(0, 8),
    )
    def reconnect_all(self, first: str, broken_a: bool, broken_b: bool, gap: int) -> None:
        """Both edges reconnect at once (after a network blip), ``gap`` loop turns apart."""
        broken = dict(zip(EDGES, (broken_a, broken_b), strict=True))
        order = [first, *(e for e in EDGES if e != first)]

        async def go() -> None:
            for i, edge_id in enumerate(order):
                for _ in range(gap if i else 0):
                    await asyncio.sleep(0)
                self.connect_now(edge_id, broken[edge_id], telemetry=True)

        self.run(go())

    @precondition(lambda self: self.concurrent and len(self.cloud.hub.edges) < len(EDGES))
    @rule(
        data=st.data(),
        watts=st.integers(-6000, 6000).map(float),
        ttl_s=st.integers(1, MAX_TTL_S),
        gap=st.integers(0, 12),
    )
    def submit_while_connecting(
        self, data: st.DataObject, watts: float, ttl_s: int, gap: int
    ) -> None:
        """A command for an offline edge races that edge's connect."""
        offline = [e for e in EDGES if e not in self.cloud.hub.edges]
        edge_id = data.draw(st.sampled_from(offline), label="edge")
        submitted = self.new_command(edge_id, watts, ttl_s, refuse=False)
        allowed = {self.predict(edge_id, SET_POWER, watts), ("queued", None)}
        cmd = self.cloud.command(submitted.cid, edge_id, watts, ttl_s=ttl_s)

        async def connect() -> None:
            for _ in range(gap):
                await asyncio.sleep(0)
            self.connect_now(edge_id, broken=False, telemetry=True)

        async def go() -> UiAck:
            ack, _ = await asyncio.gather(
                self.cloud.dispatcher.submit(USER, "operator", cmd), connect()
            )
            return ack

        ack = self.run(go())
        allowed.add(self.predict(edge_id, SET_POWER, watts))  # as if it connected first
        assert (ack.status, ack.reason) in allowed, (submitted, ack, allowed)
        self.accepted(submitted, ack)

    # -- invariants ----------------------------------------------------------------
    @invariant()
    def each_command_has_one_course(self) -> None:
        for cid, submitted in self.submitted.items():
            acks = [s.frame for s in self.ui_acks(cid)]
            assert acks, f"{cid}: no immediate ack"
            assert (acks[0].status, acks[0].reason) == submitted.first, (cid, acks)
            assert acks[0].status in ("received", "queued", "rejected"), (cid, acks)
            assert all(a.edge_id == submitted.edge for a in acks)
            finals = [i for i, a in enumerate(acks) if a.status in TERMINAL]
            assert len(finals) <= 1, f"{cid}: two terminal statuses {acks}"
            end = finals[0] if finals else len(acks)
            assert end >= len(acks) - 1, f"{cid}: an ack after the terminal one {acks}"
            assert all(a.status == "delivered" for a in acks[1:end]), (cid, acks)

    @invariant()
    def listeners_hear_every_status(self) -> None:
        heard = [(t.command_id, a.command_id, a.status, a.reason) for t, a in self.cloud.heard]
        shown = [
            (a.command_id, a.command_id, a.status, a.reason)
            for a in (s.frame for s in self.cloud.ui.received)
            if a.reason != "replay"
        ]
        assert heard == shown
        for tracked, _ in self.cloud.heard:
            assert self.cloud.dispatcher.commands[tracked.command_id] is tracked
        for cid in self.submitted:
            acks = self.ui_acks(cid)
            assert self.cloud.dispatcher.commands[cid].status == acks[-1].frame.status

    @invariant()
    def edges_get_commands_in_order_once_and_in_time(self) -> None:
        for edge_id, edge in self.edges.items():
            sent = [s.frame.command_id for s in edge.frames]
            assert len(sent) == len(set(sent)), f"{edge_id} was sent a command twice: {sent}"
            accepted = self.order[edge_id]
            assert set(sent) <= set(accepted), (edge_id, sent, accepted)
            positions = [accepted.index(cid) for cid in sent]
            assert positions == sorted(positions), f"{edge_id}: not in submit order {sent}"
            for seen in edge.frames:
                frame = seen.frame
                submitted = self.submitted[frame.command_id]
                assert (frame.device, frame.action, frame.value, frame.user) == (
                    BATTERY,
                    submitted.action,
                    submitted.value,
                    USER,
                )
                # The edge's deadline is the watchdog's, truncated to the millisecond.
                early = seen.at_s + WATCHDOG_S - _deadline(seen)
                assert -EPSILON_S <= early < WIRE_PRECISION_S + EPSILON_S, (frame, seen.at_s)
                if submitted.first[0] == "queued":
                    assert seen.at_s < submitted.expires_at_s, f"sent after its ttl: {frame}"

    @invariant()
    def terminal_statuses_are_earned(self) -> None:
        for cid, submitted in self.submitted.items():
            final = self.terminal(cid)
            if final is None:
                continue
            edge = self.edges[submitted.edge]
            ack, at_s = final.frame, final.at_s
            if ack.reason == "timeout_in_queue":
                assert submitted.first[0] == "queued", (cid, ack)
                assert cid not in edge.first, f"{cid} failed timeout_in_queue but was sent"
                assert at_s >= submitted.expires_at_s, (cid, ack)
            elif ack.reason == "edge_timeout":
                assert submitted.first[0] == "received" or cid in edge.first, (cid, ack)
                if cid in edge.first:
                    assert at_s >= _deadline(edge.first[cid]), f"{cid} timed out early"
            elif submitted.first[0] != "rejected":
                # Anything else is what the edge answered.
                assert (ack.status, ack.reason) == edge.answer.get(cid), (cid, ack)
            if cid in edge.executed_at:
                assert edge.executed_at[cid] <= at_s
                # Only the watchdog can report otherwise, and only after the
                # deadline the edge executed it before.
                assert ack.status == "executed" or ack.reason == "edge_timeout", (cid, ack)
                assert edge.executed_at[cid] < _deadline(edge.first[cid])
            else:
                assert ack.status != "executed", f"{cid} reported executed, never ran"

    @invariant()
    def nothing_waits_for_a_connected_edge(self) -> None:
        for edge_id in EDGES:
            if self.healthy(edge_id):
                waiting = self.waiting(edge_id)
                assert not waiting, f"{edge_id} is connected, yet these wait: {waiting}"

    # -- the end -------------------------------------------------------------------
    def teardown(self) -> None:
        self.cloud.latency.rng = None  # the example's data may be closed by now
        try:
            self.finish()
        finally:
            self.loop.run_until_complete(self.cloud.aclose())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def finish(self) -> None:
        """Past every deadline and ttl: each command has exactly one terminal status."""
        self.run(self.cloud.advance(MAX_TTL_S + WATCHDOG_S + 1.0))
        self.run(self.cloud.dispatcher.watchdog_pass())
        self.run(self.cloud.dispatcher.expiry_pass())
        self.edges_send_outbox()  # acks that come too late now: audited, not shown
        self.each_command_has_one_course()
        self.listeners_hear_every_status()
        self.edges_get_commands_in_order_once_and_in_time()
        self.terminal_statuses_are_earned()
        for cid in self.submitted:
            final = self.terminal(cid)
            assert final is not None, f"{cid} never reached a terminal status"
            event(f"final: {final.frame.status} {final.frame.reason or ''}".strip())
        assert self.run(self.cloud.inflight.count()) == 0
        assert self.run(self.cloud.queue.edges_with_queues()) == []


class ConcurrentDispatchLifecycle(DispatchLifecycle):
    concurrent = True

    @initialize(batch=st.lists(commands, max_size=2 * QUEUE_LIMIT))
    def backlog(self, batch: list[tuple[str, object, int, bool]]) -> None:
        """Commands already waiting for both edges before any connects."""
        if batch:
            self.submit(batch)


FAST = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,  # shrink one failure, not every distinct one (minutes)
)


def test_lifecycle() -> None:
    run_state_machine_as_test(DispatchLifecycle, settings=FAST)


def test_lifecycle_concurrent() -> None:
    run_state_machine_as_test(ConcurrentDispatchLifecycle, settings=FAST)
