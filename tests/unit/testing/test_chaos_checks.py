"""The chaos suite's checks on hand-made runs: each one passes a clean run and catches its bug."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ems.edge.executions import Execution
from support.chaos.checks import (
    CycleRow,
    FaultWindow,
    SentCommand,
    check_executions,
    check_statuses,
    check_telemetry,
)
from support.chaos.proxy import TcpProxy
from support.chaos.schedule import FAULT_KINDS, make_schedule

T0 = 1_767_225_600.0


def _record(*statuses: tuple[str, str | None]) -> dict[str, Any]:
    history = [{"status": s, "reason": r} for s, r in statuses]
    final = history[-1]
    return {
        "status": final["status"],
        "reason": final["reason"],
        "terminal": final["status"] in ("executed", "failed", "rejected"),
        "history": history,
    }


def _sent(command_id: str, *acks: tuple[str, str | None]) -> SentCommand:
    cmd = SentCommand(command_id, "dashboard-a", -500, None, T0)
    for status, reason in acks:
        frame = {"command_id": command_id, "status": status, "reason": reason}
        cmd.acks.append(frame)
        cmd.seen_by.setdefault("dashboard-a", []).append(frame)
    return cmd


def test_statuses_pass_when_dashboard_and_api_agree_on_one_final_status() -> None:
    record = _record(("received", None), ("delivered", None), ("executed", None))
    sent = [_sent("c1", ("received", None), ("executed", None)), _sent("never-arrived")]
    records = {"c1": [record, record], "never-arrived": [None, None]}
    assert check_statuses(sent, records, []) == []


def test_statuses_catch_two_finals_disagreement_and_an_acked_unknown_command() -> None:
    two = _record(("received", None), ("failed", "edge_timeout"), ("executed", None))
    ok = _record(("received", None), ("failed", "edge_timeout"))
    sent = [
        _sent("two", ("received", None)),
        _sent("differ", ("executed", None)),
        _sent("unknown", ("received", None)),
    ]
    problems = check_statuses(sent, {"two": [two], "differ": [ok], "unknown": [None]}, [])
    assert len(problems) == 3
    assert "2 terminal statuses" in problems[0]
    assert "saw ('executed', None), the API says ('failed', 'edge_timeout')" in problems[1]
    assert "does not know it" in problems[2]


def test_executions_catch_twice_after_failure_and_missing() -> None:
    window = FaultWindow("edge_freeze", "", T0, T0 + 8)
    sent = [_sent(c) for c in ("once", "twice", "failed", "lost")]
    finals = {
        "once": ("executed", None),
        "twice": ("executed", None),
        "failed": ("failed", "edge_timeout"),
        "lost": ("executed", None),
    }
    log = [Execution(c, "battery_1", "set_active_power", 1, T0 + 1) for c in ("once", "twice")]
    log += [Execution(c, "battery_1", "set_active_power", 1, T0 + 2) for c in ("twice", "failed")]
    problems = check_executions(sent, finals, log, [window])
    assert sum("twice executed 2 times" in p for p in problems) == 2
    assert any("failed executed" in p and "ended failed(edge_timeout)" in p for p in problems)
    assert any("lost ended executed but" in p for p in problems)
    assert all("edge_freeze" in p for p in problems)
    assert check_executions(sent[:1], {"once": ("executed", None)}, log[:1], []) == []


def _rows(start_s: float, indices: range, skipped: int = 0) -> list[CycleRow]:
    return [CycleRow(start_s + i, i, skipped) for i in indices]


def test_telemetry_allows_what_the_edge_never_ran_and_catches_what_it_lost() -> None:
    kill = FaultWindow("edge_kill", "", T0 + 10, T0 + 15)
    freeze = FaultWindow("edge_freeze", "", T0 + 20, T0 + 26)
    # Incarnation 0: cycles 0..9, killed at 10. Incarnation 1 from T0+15: a freeze
    # skipped cycles 6..10 (counted by the edge), then runs to the end.
    rows = _rows(T0, range(10))
    rows += _rows(T0 + 15, range(6))
    rows += [CycleRow(T0 + 15 + i, i, 5) for i in range(11, 30)]
    assert check_telemetry(rows, [kill, freeze], end_s=T0 + 44, period_s=1.0) == []

    lost = [r for r in rows if not (r.time_s > T0 + 30 and r.time_s < T0 + 34)]
    problems = check_telemetry(lost, [kill, freeze], end_s=T0 + 44, period_s=1.0)
    assert len(problems) == 1 and "3 ran but are not stored" in problems[0]

    no_first = [r for r in rows if r.time_s != T0 + 15]
    problems = check_telemetry(no_first, [kill, freeze], end_s=T0 + 44, period_s=1.0)
    assert len(problems) == 1 and "first 1 cycles" in problems[0]

    short = [r for r in rows if r.time_s < T0 + 40]
    assert (
        "stored telemetry ends" in check_telemetry(short, [kill], end_s=T0 + 44, period_s=1.0)[-1]
    )
    assert check_telemetry([], [], end_s=T0, period_s=1.0) == ["no stored telemetry at all"]


def test_the_schedule_replays_from_its_seed_and_has_every_fault_each_round() -> None:
    assert make_schedule(7, 2) == make_schedule(7, 2)
    assert make_schedule(7, 2) != make_schedule(8, 2)
    faults = make_schedule(7, 2)
    assert sorted(f.kind for f in faults[:6]) == sorted(FAULT_KINDS)
    assert next(f for f in faults if f.kind == "postgres_stop").duration_s == 30.0


@pytest.mark.asyncio
async def test_the_proxy_pipes_and_drops_every_connection() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    dead_port = 1  # nothing listens there: the proxy skips it
    proxy = TcpProxy([("127.0.0.1", dead_port), ("127.0.0.1", server.sockets[0].getsockname()[1])])
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        assert proxy.drop_all() == 1
        assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed under the client
        writer.close()
    finally:
        await proxy.close()
        server.close()
        await server.wait_closed()
