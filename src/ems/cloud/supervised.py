"""The worker's side of ``EMS_WORKERS``: a worker never outlives its supervisor.

A worker left behind by a dead supervisor keeps the port, its Redis name and
its edges, and nothing would ever restart or stop it. Three things bind a
worker to the supervisor (``EMS_SUPERVISOR_PID``), each covering what the one
before cannot:

1. ``PR_SET_PDEATHSIG``: the kernel sends SIGTERM when the supervisor dies,
   even by SIGKILL, and the worker stops gracefully (uvicorn's handler).
2. The parent check right after it: the signal only covers a death *after*
   the ``prctl`` call. A supervisor that dies between forking a worker and that
   call (for example while it restarts a worker that crashed) is already gone,
   the worker has been handed to another parent, and no signal will ever come;
   so a worker whose parent is no longer the supervisor refuses to start.
3. A watchdog thread that waits on a pidfd of the supervisor and ends the
   process if the graceful stop has not finished ``grace_s`` after the
   supervisor's death, so a shutdown stuck on Redis or PostgreSQL is bounded too.

The death signal is tied to the *thread* that forked the worker, not the
process: the supervisor must fork from a thread that lives as long as it does
(its main thread; ``Supervisor`` does).
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading

from ems.errors import EmsError

__all__ = ["STOP_GRACE_S", "SupervisorGone", "bind_to_supervisor"]

log = logging.getLogger(__name__)

#: A worker's graceful stop, at most: uvicorn's own takes at most 5 s, the
#: lifespan's closing of Redis and PostgreSQL a little more.
STOP_GRACE_S = 10.0

_PR_SET_PDEATHSIG = 1
_EXIT_ORPHANED = 70  # EX_SOFTWARE: the supervisor logs it like any worker exit


class SupervisorGone(EmsError):
    """The supervisor died before this worker could bind itself to it."""


def bind_to_supervisor(supervisor_pid: int, *, grace_s: float = STOP_GRACE_S) -> None:
    """Call first thing in a worker; raises :class:`SupervisorGone` if it is already too late."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != supervisor_pid:
        raise SupervisorGone(
            f"supervisor {supervisor_pid} died before this worker started "
            f"(parent is now {os.getppid()}): not starting"
        )
    _start_watchdog(supervisor_pid, grace_s)


def _start_watchdog(supervisor_pid: int, grace_s: float) -> None:
    try:
        pidfd = os.pidfd_open(supervisor_pid)
    except (AttributeError, OSError) as exc:  # not Linux >= 5.3: the signal alone
        log.debug("no pidfd for supervisor %d (%s): death signal only", supervisor_pid, exc)
        return
    # Opened after the parent check: if the supervisor had died in between, its
    # pid could name another process by now. Still our parent means still it.
    if os.getppid() != supervisor_pid:
        os.close(pidfd)
        raise SupervisorGone(f"supervisor {supervisor_pid} died while this worker started")
    threading.Thread(
        target=_exit_after_supervisor,
        args=(pidfd, supervisor_pid, grace_s),
        name="supervisor-watchdog",
        daemon=True,
    ).start()


def _exit_after_supervisor(pidfd: int, supervisor_pid: int, grace_s: float) -> None:
    select.select([pidfd], [], [])  # readable once the supervisor has exited
    log.warning("supervisor %d is gone: stopping (at most %.0f s)", supervisor_pid, grace_s)
    # The death signal has started the graceful stop on the main thread; this
    # thread only ends a stop that hangs. A daemon thread dies with a clean exit.
    threading.Event().wait(grace_s)
    log.error("graceful stop took longer than %.0f s: exiting now", grace_s)
    logging.shutdown()
    os._exit(_EXIT_ORPHANED)
