"""Real ``ems`` processes for integration tests and benchmarks: start, wait for a line, stop."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["EmsProcess", "ExitWatch", "free_port", "running"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ExitWatch:
    """Waits for a process to end, ours or not (an orphan, a grandchild), without
    polling: a Linux pidfd becomes readable when its process exits.

    Open it while the process is surely alive, so the pid cannot name another.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd = os.pidfd_open(pid)

    def wait(self, timeout_s: float) -> bool:
        """True once the process has exited, False if it still runs after ``timeout_s``."""
        readable, _, _ = select.select([self._fd], [], [], timeout_s)
        return bool(readable)

    def close(self) -> None:
        os.close(self._fd)


class EmsProcess:
    """``python -m ems.cli ARGS`` with its output collected line by line.

    ``program`` replaces ``python -m ems.cli`` for a process the CLI does not
    start (e.g. a supervisor with a test's own worker command).
    """

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        program: Sequence[str] = (sys.executable, "-m", "ems.cli"),
    ) -> None:
        environment = dict(os.environ)
        environment.update(env or {})
        self.args = list(args)
        self.proc = subprocess.Popen(
            [*program, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._new.put(line)

    def wait_for(self, needle: str, timeout_s: float = 30.0) -> str:
        """Block until a line containing ``needle`` appears (or fail with the output)."""
        for line in self.lines:
            if needle in line:
                return line
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._new.get(timeout=remaining)
            except queue.Empty:
                break
            if needle in line:
                return line
            if self.proc.poll() is not None and self._new.empty():
                break
        raise AssertionError(
            f"{needle!r} not seen within {timeout_s} s from ems {' '.join(self.args)}:\n"
            + "".join(self.lines[-60:])
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGINT, then wait; kill if it does not stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot handle SIGINT
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        self._pump_thread.join(timeout_s)  # the pipe ends with the process
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def kill(self, timeout_s: float = 15.0) -> int:
        """SIGKILL: no chance to clean up, as in a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.stop(timeout_s)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def running(args: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[EmsProcess]:
    process = EmsProcess(args, env)
    try:
        yield process
    finally:
        process.stop()


def data_dir_env(path: Path) -> dict[str, str]:
    return {"EMS_DATA_DIR": str(path)}
