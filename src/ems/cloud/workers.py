"""``ems cloud`` with ``EMS_WORKERS`` > 1: several cloud processes behind one port.

One Python process runs its event loop on one core, so one cloud process
cannot use a second core. Several processes already cooperate through Redis
and the database (DESIGN section 7: edge registry, routed commands, acks and
telemetry over pub/sub), so more cores need nothing new but processes: this
supervisor starts ``workers`` copies of ``ems cloud``, each binding the same
port with ``SO_REUSEPORT`` (the kernel spreads new connections over them) and
named ``<EMS_NODE_ID>.<n>`` in the shared state, and restarts any that dies.

The supervisor itself does no request work; it waits, restarts and, on
SIGTERM or SIGINT, stops every worker (SIGTERM, then SIGKILL after a grace
period). A worker binds itself to the supervisor at start
(:mod:`ems.cloud.supervised`), so it stops when the supervisor dies however
it dies, even in the middle of restarting that worker.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from ems.cloud.settings import CloudSettings
from ems.cloud.supervised import STOP_GRACE_S
from ems.errors import EmsError

__all__ = ["Supervisor", "check_workers", "worker_env"]

log = logging.getLogger(__name__)

_POLL_S = 0.5
_RESTART_MIN_S = 1.0
_RESTART_MAX_S = 30.0
_HEALTHY_AFTER_S = 60.0  # a worker up this long starts its next backoff from the minimum


def check_workers(settings: CloudSettings) -> None:
    """Refuse settings several processes cannot share: embedded stores live in one process."""
    missing = [
        name
        for name, value in (
            ("EMS_REDIS_URL", settings.redis_url),
            ("EMS_DATABASE_URL", settings.database_url),
        )
        if not value
    ]
    if missing:
        raise EmsError(
            f"EMS_WORKERS={settings.workers} needs shared state: set {' and '.join(missing)} "
            "(the embedded store and SQLite belong to one process)"
        )
    if settings.port == 0:
        raise EmsError("EMS_WORKERS > 1 needs a fixed port: every worker binds the same one")
    # The worker names must stay valid node ids (pattern in CloudSettings).
    if len(f"{settings.node_id}.{settings.workers}") > 64:
        raise EmsError("EMS_NODE_ID is too long to name the workers (at most 60 characters)")


def worker_env(settings: CloudSettings, index: int) -> dict[str, str]:
    """The environment of worker ``index`` (1-based): the parent's, plus what makes it a worker."""
    env = dict(os.environ)
    env.update(
        {
            "EMS_WORKERS": "1",
            "EMS_REUSE_PORT": "true",
            "EMS_NODE_ID": f"{settings.node_id}.{index}",
            "EMS_HOST": settings.host,
            "EMS_PORT": str(settings.port),
            "EMS_DATA_DIR": str(settings.data_dir),
            "EMS_SUPERVISOR_PID": str(os.getpid()),
        }
    )
    return env


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = _RESTART_MIN_S
    restart_at: float = 0.0


@dataclass
class Supervisor:
    settings: CloudSettings
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "ems.cli", "cloud"])
    _stopping: bool = False

    def run(self) -> int:
        """Start the workers and keep them running until SIGTERM/SIGINT; returns the exit code."""
        check_workers(self.settings)
        workers = [_Worker(i) for i in range(1, self.settings.workers + 1)]
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info(
            "starting %d cloud workers on %s:%d",
            len(workers),
            self.settings.host,
            self.settings.port,
        )
        try:
            for worker in workers:
                self._start(worker)
            while not self._stopping:
                now = time.monotonic()
                for worker in workers:
                    self._look_after(worker, now)
                time.sleep(_POLL_S)  # a supervisor's poll period, not a synchronisation
        finally:
            self._stop_all(workers)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the cloud workers", signum)
        self._stopping = True

    def _start(self, worker: _Worker) -> None:
        # The worker's death signal follows the thread that forks it (see
        # ems.cloud.supervised): only the main thread lives as long as we do.
        assert threading.current_thread() is threading.main_thread()
        worker.proc = subprocess.Popen(self.command, env=worker_env(self.settings, worker.index))
        worker.started_at = time.monotonic()
        log.info("cloud worker %d started (pid %d)", worker.index, worker.proc.pid)

    def _look_after(self, worker: _Worker, now: float) -> None:
        if worker.proc is None:
            if now >= worker.restart_at:
                self._start(worker)
            return
        code = worker.proc.poll()
        if code is None:
            return
        if now - worker.started_at >= _HEALTHY_AFTER_S:
            worker.backoff_s = _RESTART_MIN_S
        log.error(
            "cloud worker %d (pid %d) exited with %d; restarting in %.0f s",
            worker.index,
            worker.proc.pid,
            code,
            worker.backoff_s,
        )
        worker.proc = None
        worker.restart_at = now + worker.backoff_s
        worker.backoff_s = min(worker.backoff_s * 2, _RESTART_MAX_S)

    @staticmethod
    def _stop_all(workers: list[_Worker]) -> None:
        running = [w.proc for w in workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("cloud worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()
