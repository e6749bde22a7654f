"""The optimiser's plan handed over as its durable state (an HA pair's new leader, or an
edge restarted): followed from the first cycle until the controller's own first solve
completes, instead of self-consumption meanwhile."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_optimizer import STATE, TARGET, Loop, optimizer

from ems.edge.controllers.optimizer.carried_plan import MAX_STEPS
from ems.edge.controllers.optimizer.worker import ThreadWorker
from ems.optimize import DispatchPlan, DispatchProblem, solve_dispatch


class Held:
    """A solver that answers only once released: the new leader's solve under way."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, problem: DispatchProblem) -> DispatchPlan:
        self.release.wait(timeout=30)
        return solve_dispatch(problem)


@pytest.fixture
def held() -> Iterator[Held]:
    solver = Held()
    yield solver
    solver.release.set()


def _leader_state(tmp_path: Path, **params: Any) -> dict[str, Any]:
    leader = optimizer(tmp_path, **params)
    Loop(leader).step()
    state = leader.durable_state()
    assert state is not None
    # As controllers.json and the Raft log carry it: plain JSON.
    loaded: dict[str, Any] = json.loads(json.dumps(state))
    return loaded


def test_the_plan_is_the_durable_state_compact_and_bounded(tmp_path: Path) -> None:
    plan = _leader_state(tmp_path, horizon_h=48)["plan"]
    assert plan["step_s"] == 900.0
    assert len(plan["grid_w"]) == len(plan["battery_w"]) == len(plan["soc_pct"]) == MAX_STEPS
    assert plan["battery_w"][:8] == [-4000] * 8  # charging in the cheap night
    assert plan["soc_pct"][7] == 100.0
    assert len(json.dumps(plan)) < 4096


def test_a_new_leader_follows_the_handed_over_plan_until_its_own_solve_completes(
    tmp_path: Path, held: Held
) -> None:
    state = _leader_state(tmp_path)
    new = optimizer(tmp_path, inline=False, solve=held, solve_timeout_s=60.0)
    new.restore_state(state)
    loop = Loop(new)
    loop.step(1000.0)
    assert isinstance(new.worker, ThreadWorker) and new.worker.busy(), "its own solve runs"
    # The plan charges 4 kW from the grid: the grid is held at 1 kW load + 4 kW.
    assert loop.out(STATE) == "following_last_plan"
    assert loop.out(TARGET) == pytest.approx(5000.0)
    assert loop.battery_w == pytest.approx(-4000.0, abs=50.0)
    held.release.set()
    assert new.worker.join(10.0)
    loop.step(1000.0)
    assert loop.out(STATE) == "following_plan"
    assert new.durable_state() is not None


def test_without_a_handed_over_plan_it_runs_self_consumption_meanwhile(
    tmp_path: Path, held: Held
) -> None:
    new = optimizer(tmp_path, inline=False, solve=held, solve_timeout_s=60.0)
    loop = Loop(new)
    loop.step(1000.0)
    assert loop.out(STATE) == "no_plan"
    assert loop.battery_w == pytest.approx(1000.0)


@pytest.mark.parametrize(
    "change",
    [
        {"step_s": 300.0},  # another step length
        {"grid_w": "oops"},
        {"battery_w": [1.0]},  # lengths differ
        {"soc_pct": None},
        {"grid_w": [float("nan")] * 96},
        {"start_s": None},
    ],
)
def test_a_plan_that_is_not_one_is_ignored(
    tmp_path: Path, held: Held, change: dict[str, Any]
) -> None:
    state = _leader_state(tmp_path)
    new = optimizer(tmp_path, inline=False, solve=held, solve_timeout_s=60.0)
    new.restore_state({"plan": {**state["plan"], **change}})
    assert new.plan is None
    loop = Loop(new)
    loop.step(1000.0)
    assert loop.out(STATE) == "no_plan"
