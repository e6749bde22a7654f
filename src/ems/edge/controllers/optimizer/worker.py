"""Solving a plan off the cycle's thread, so the cycle never waits on HiGHS.

:class:`ThreadWorker` runs each solve on a daemon thread of its own (one at a
time) and the cycle picks the result up when it is there; a solve still running
after ``timeout_s`` of the cycle's clock is given up (its late result is
dropped, and no new solve starts until its thread ends, so a stuck solver never
piles threads up). :class:`InlineWorker` solves at once on the caller's thread:
``ems simulate`` uses it, so a simulated day is the same on any machine.

A job is a problem or a :data:`Build` of one: the optimiser hands over what the
cycle measured and the worker forecasts and builds the LP, so neither the forecasts
nor a model's refit hold the cycle up. A build's fault is the solve's. Either way
:meth:`poll` answers one :class:`Outcome` per submitted job:
the plan, or why there is none (``solve_failed``, ``solve_timed_out``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ems.optimize import DispatchPlan, DispatchProblem, OptimizeError

__all__ = ["Build", "InlineWorker", "Outcome", "Solve", "ThreadWorker", "Worker"]

Solve = Callable[[DispatchProblem], DispatchPlan]
#: Builds the problem on the worker's side: the forecasts, their backtests and the day
#: LPs a plan needs are too slow for the cycle (a model refit takes seconds).
Build = Callable[[], DispatchProblem]


@dataclass(frozen=True, slots=True)
class Outcome:
    start_s: float  # the plan's first step
    plan: DispatchPlan | None
    error: str = ""  # "solve_failed" | "solve_timed_out" when plan is None
    detail: str = ""
    problem: DispatchProblem | None = None  # the one solved, once built


def _solve_once(solve: Solve, job: DispatchProblem | Build, start_s: float) -> Outcome:
    problem = None
    try:
        problem = job() if callable(job) else job
        return Outcome(start_s, solve(problem), problem=problem)
    except OptimizeError as exc:
        return Outcome(start_s, None, "solve_failed", str(exc), problem)
    except Exception as exc:  # any solver fault keeps the last plan; the edge stays up
        return Outcome(start_s, None, "solve_failed", f"{type(exc).__name__}: {exc}", problem)


class Worker:
    """Interface of both workers."""

    def busy(self) -> bool:
        raise NotImplementedError

    def submit(self, job: DispatchProblem | Build, start_s: float, now_s: float) -> None:
        """Solve ``job``: a problem, or what builds it (on the worker's side)."""
        raise NotImplementedError

    def poll(self, now_s: float) -> Outcome | None:
        raise NotImplementedError


class InlineWorker(Worker):
    def __init__(self, solve: Solve) -> None:
        self._solve = solve
        self._done: Outcome | None = None

    def busy(self) -> bool:
        return False

    def submit(self, job: DispatchProblem | Build, start_s: float, now_s: float) -> None:
        self._done = _solve_once(self._solve, job, start_s)

    def poll(self, now_s: float) -> Outcome | None:
        done, self._done = self._done, None
        return done


class ThreadWorker(Worker):
    def __init__(self, solve: Solve, timeout_s: float) -> None:
        self._solve = solve
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: Outcome | None = None
        self._submitted_s = 0.0
        self._start_s = 0.0
        self._given_up = False

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job: DispatchProblem | Build, start_s: float, now_s: float) -> None:
        if self.busy():
            raise RuntimeError("a solve is still running")
        self._submitted_s, self._start_s, self._given_up = now_s, start_s, False
        with self._lock:
            self._result = None

        def run() -> None:
            outcome = _solve_once(self._solve, job, start_s)
            with self._lock:
                self._result = outcome

        self._thread = threading.Thread(target=run, name="ems-optimizer-solve", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float) -> bool:
        """Wait for the solve under way, at most ``timeout_s`` (tests, shutdown); whether
        none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.busy()

    def poll(self, now_s: float) -> Outcome | None:
        if self._thread is None:
            return None
        with self._lock:
            result, self._result = self._result, None
        if result is not None:
            self._thread = None if not self._thread.is_alive() else self._thread
            return None if self._given_up else result
        if not self._given_up and now_s - self._submitted_s > self._timeout_s:
            self._given_up = True
            detail = f"no answer after {now_s - self._submitted_s:.0f} s"
            return Outcome(self._start_s, None, "solve_timed_out", detail)
        return None
