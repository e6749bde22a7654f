"""A worker bound to its supervisor (ems.cloud.supervised), with real processes.

Each test runs a stand-in supervisor (``python -c``) whose one child binds
itself to it the way ``ems cloud`` workers do, then kills the supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from support.processes import ExitWatch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

# The worker ignores SIGTERM: a graceful stop that hangs for ever.
_HUNG_WORKER = """
import os, signal, sys
from ems.cloud.supervised import bind_to_supervisor
from ems.logs import configure_logging

configure_logging()
bind_to_supervisor(os.getppid(), grace_s=float(sys.argv[1]))
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("bound", flush=True)
signal.pause()
"""
_SUPERVISOR = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(worker.pid, flush=True)
worker.wait()
"""


def test_a_worker_whose_stop_hangs_is_ended_after_the_grace_period() -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, _HUNG_WORKER, "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert supervisor.stdout is not None
    try:
        worker = int(supervisor.stdout.readline())
        watch = ExitWatch(worker)
        try:
            assert supervisor.stdout.readline().strip() == "bound"
            supervisor.kill()
            supervisor.wait(10)
            ended = watch.wait(timeout_s=20)
            if not ended:
                os.kill(worker, signal.SIGKILL)
            assert ended, "the worker outlived its supervisor by more than its grace period"
        finally:
            watch.close()
        assert "exiting now" in supervisor.stdout.read()  # the watchdog, not luck
    finally:
        supervisor.kill()
        supervisor.wait(10)
        supervisor.stdout.close()
