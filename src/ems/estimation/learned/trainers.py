"""Where training runs: a short-lived child process (the edge), or inline (tests, ``ems simulate``).

A child process, not a thread: training is autograd's Python-level tracing,
which would hold the GIL against the cycle for minutes, and it imports
autograd, which the edge process then never carries (see the README's
footprint). The child is spawned fresh (no copy of the edge's state), daemonic
(it dies with the edge) and gone when it has answered.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from pathlib import Path
from typing import Protocol

from ems.estimation.config import LearnedConfig
from ems.estimation.learned.history import History
from ems.estimation.learned.model_file import LearnedModel, TrainReport

__all__ = ["InlineTrainer", "Outcome", "ProcessTrainer", "Trainer", "run_training"]

#: What a training gives back: a model (with its verdict), only a report, or its failure.
Outcome = LearnedModel | TrainReport | BaseException


class Trainer(Protocol):
    @property
    def busy(self) -> bool: ...

    def start(
        self, history: History, config: LearnedConfig, now_s: float, history_path: Path | None
    ) -> None: ...

    def poll(self) -> Outcome | None:
        """The finished training's outcome, once; None while it runs or when idle."""
        ...

    def close(self) -> None: ...


def run_training(
    history: History, config: LearnedConfig, now_s: float, history_path: Path | None
) -> LearnedModel | TrainReport:
    """Keep the history it learns from (read back after a restart), then train."""
    if history_path is not None:
        history.save(history_path)
    from ems.estimation.learned.train import train_model  # autograd: only here

    return train_model(history, config, now_s)


def _child(
    conn: multiprocessing.connection.Connection,
    history: History,
    config: LearnedConfig,
    now_s: float,
    history_path: Path | None,
) -> None:
    outcome: Outcome
    try:
        outcome = run_training(history, config, now_s, history_path)
    except Exception as exc:  # handed to the parent, which logs it and keeps the EKF
        outcome = RuntimeError(f"{type(exc).__name__}: {exc}")
    conn.send(outcome)
    conn.close()


class ProcessTrainer:
    """One training at a time in a spawned child; :meth:`poll` never blocks."""

    def __init__(self) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None

    @property
    def busy(self) -> bool:
        return self._process is not None

    def start(
        self, history: History, config: LearnedConfig, now_s: float, history_path: Path | None
    ) -> None:
        if self._process is not None:
            raise RuntimeError("a training is already running")
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_child,
            args=(send, history, config, now_s, history_path),
            name="ems-soc-training",
            daemon=True,
        )
        process.start()
        send.close()  # the child holds its end; EOF here means it died
        self._process, self._conn = process, receive

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` for the outcome (tests; the cycle only polls)."""
        return self._conn is not None and self._conn.poll(timeout_s)

    def poll(self) -> Outcome | None:
        if self._process is None or self._conn is None:
            return None
        outcome: Outcome
        try:
            if not self._conn.poll():
                return None
            outcome = self._conn.recv()
        except (EOFError, OSError):
            outcome = RuntimeError(f"training process died (exit {self._process.exitcode})")
        self.close()
        return outcome

    def close(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join(timeout=5.0)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None


class InlineTrainer:
    """Trains on the caller's thread when started: deterministic, for tests and simulations."""

    def __init__(self) -> None:
        self._outcome: Outcome | None = None
        #: Each training's CPU time is in its report; this counts the trainings.
        self.trainings = 0

    @property
    def busy(self) -> bool:
        return self._outcome is not None

    def start(
        self, history: History, config: LearnedConfig, now_s: float, history_path: Path | None
    ) -> None:
        self.trainings += 1
        try:
            self._outcome = run_training(history, config, now_s, history_path)
        except Exception as exc:
            self._outcome = exc

    def poll(self) -> Outcome | None:
        outcome, self._outcome = self._outcome, None
        return outcome

    def close(self) -> None:
        self._outcome = None
