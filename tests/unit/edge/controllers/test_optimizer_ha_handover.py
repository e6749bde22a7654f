"""The optimiser's plan goes through the HA table: the leader publishes it with the
controllers' state, and a new leader's fresh controllers, restored from the table as
``adopt_controller_state`` restores them, follow it from their first cycle."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest
from test_optimizer import STATE, TARGET, Loop, optimizer

from ems.edge.controller_state import durable_states, restore_states
from ems.edge.ha.table import LeaseTable
from ems.optimize import DispatchPlan, DispatchProblem, solve_dispatch


def test_a_new_leader_follows_the_plan_the_old_one_published(tmp_path: Path) -> None:
    table = LeaseTable()
    token = table.acquire("a", 0.0, 1.0).token
    old = optimizer(tmp_path)
    Loop(old).step()
    assert table.publish_state(token, durable_states([old]))
    # What the other members hold: the table as the Raft log and its dump carry it.
    replica: LeaseTable = pickle.loads(pickle.dumps(table))
    assert "opt" in replica.controller_state

    release = threading.Event()

    def held(problem: DispatchProblem) -> DispatchPlan:
        release.wait(timeout=30)
        return solve_dispatch(problem)

    new = optimizer(tmp_path, inline=False, solve=held, solve_timeout_s=60.0)
    try:
        restore_states([new], replica.controller_state)
        loop = Loop(new)
        loop.step(1000.0)
        assert loop.out(STATE) == "following_last_plan"
        assert loop.out(TARGET) == pytest.approx(5000.0)
        assert loop.battery_w == pytest.approx(-4000.0, abs=50.0)
    finally:
        release.set()
