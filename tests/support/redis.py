"""A throwaway Redis server for integration tests and benchmarks.

:func:`start_redis` writes a config file into a fresh private temporary
directory, starts ``redis-server`` in the foreground (no daemonizing: we own
the process) listening on 127.0.0.1 only with ``protected-mode yes`` (a free
port, no unix socket), waits until it answers ``PING`` and returns a
:class:`RunningRedis` with a URL. ``stop()`` shuts it down and deletes the
directory. Use it as a context manager::

    with start_redis() as server:
        client = redis.asyncio.Redis.from_url(server.url)

Persistence is off by default (``save ""``, no append-only file): the data is
throwaway. ``appendonly=True`` turns on the append-only file (fsync policy
``appendfsync``); RDB snapshots stay off even then, so a persistence test
proves the AOF and nothing else. ``restart()`` stops the server (cleanly, or
after ``kill()``) and starts it again on the same port and directory, so it
reloads what it had written.

Redis runs fine as root (CI runs tests as root), unlike PostgreSQL: no user
switching here.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Literal

from support.server import ThrowawayServer

__all__ = [
    "AppendFsync",
    "RedisNotFound",
    "RedisStartError",
    "RunningRedis",
    "find_redis_server",
    "start_redis",
]

AppendFsync = Literal["always", "everysec", "no"]

_HOST = "127.0.0.1"
_PORT_ATTEMPTS = 3  # another process may grab the free port between our probe and bind
_STOP_TIMEOUT_S = 15.0  # a clean shutdown (SIGTERM) longer than this ends in SIGKILL
_POLL_FIRST_S = 0.002  # readiness polling: first interval, doubling up to _POLL_MAX_S
_POLL_MAX_S = 0.05
_PING_TIMEOUT_S = 1.0  # one PING round trip on loopback


class RedisNotFound(RuntimeError):
    """No ``redis-server`` on ``PATH``."""


class RedisStartError(RuntimeError):
    """``redis-server`` exists but the server did not start or did not answer in time."""


def find_redis_server() -> Path:
    """The ``redis-server`` executable on ``PATH``; raises :class:`RedisNotFound`."""
    found = shutil.which("redis-server")
    if found is None:
        raise RedisNotFound("redis-server not found on PATH: apt-get install redis-server")
    return Path(found)


class RunningRedis(ThrowawayServer):
    """A server started by :func:`start_redis`; ``stop()`` (or leaving ``with``) ends it.

    ``dir`` holds the config file, the log and (with ``appendonly``) the
    append-only files; it survives ``restart()`` and ``kill()`` and is deleted
    by ``stop()``.
    """

    def __init__(
        self,
        *,
        binary: Path,
        dir: Path,
        appendonly: bool,
        appendfsync: AppendFsync,
        timeout_s: float,
    ) -> None:
        self.binary = binary
        self.dir = dir
        self.host = _HOST
        self.port = 0
        self.appendonly = appendonly
        self.appendfsync: AppendFsync = appendfsync
        self.timeout_s = timeout_s
        self.config_file = dir / "redis.conf"
        self.log_file = dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (``None`` when stopped or killed)."""
        return self._proc.pid if self.running and self._proc is not None else None

    def stop(self) -> None:
        """Shut down (SIGTERM, then SIGKILL after a while) and delete the directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._shutdown()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop (cleanly, unless already dead) and start again on the same port and directory.

        With ``appendonly`` the new server reloads the data set from the
        append-only file; without it the data set is empty. Raises
        :class:`RedisStartError` if the server does not come back (for example
        when another process took the port meanwhile).
        """
        if self._stopped:
            raise RedisStartError("restart() after stop(): the directory is gone")
        self._shutdown()
        self._launch()
        try:
            self._wait_ready()
        except BaseException:
            self._shutdown()
            raise

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown work); its directory stays for ``restart()``."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        self._proc = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningRedis {self.url} {state} dir={self.dir}>"

    # -- internals ---------------------------------------------------------------

    def _write_config(self) -> None:
        # Values are quoted: the directory name comes from mkdtemp (no quotes in it).
        lines = [
            f"bind {_HOST}",
            "protected-mode yes",
            f"port {self.port}",
            f'dir "{self.dir}"',
            "daemonize no",
            "supervised no",
            'logfile ""',  # stdout, which we send to redis.log
            'save ""',  # no RDB snapshots, with or without the AOF (see the module docstring)
            f"appendonly {'yes' if self.appendonly else 'no'}",
            f"appendfsync {self.appendfsync}",
        ]
        self.config_file.write_text("\n".join(lines) + "\n")

    def _launch(self) -> None:
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), str(self.config_file)],
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a Ctrl-C meant for pytest does not kill the
                # server before the fixture's teardown can stop it.
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        """Poll with PING until ``+PONG`` (not ``-LOADING``), the process dies or time runs out."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.timeout_s
        interval = _POLL_FIRST_S
        while True:
            if _ping(self.host, self.port):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RedisStartError(
                    f"redis-server on port {self.port} did not answer PING within "
                    f"{self.timeout_s} s:\n{self.log_tail()}"
                )
            try:  # sleeps until the next poll, but wakes at once if the server exits
                code = proc.wait(timeout=min(interval, remaining))
            except subprocess.TimeoutExpired:
                interval = min(interval * 2, _POLL_MAX_S)
                continue
            self._proc = None
            raise RedisStartError(f"redis-server exited with status {code}:\n{self.log_tail()}")

    def _shutdown(self) -> None:
        """End the process if there is one: SIGTERM (Redis flushes the AOF), SIGKILL if stuck."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None


def start_redis(
    base_dir: Path | None = None,
    *,
    appendonly: bool = False,
    appendfsync: AppendFsync = "everysec",
    timeout_s: float = 30,
) -> RunningRedis:
    """Start a private server in a new directory under ``base_dir`` (default: the temp dir).

    ``appendonly`` turns on the append-only file with the given ``appendfsync``
    policy (``"always"``: every write is on disk before the reply, so even a
    SIGKILL loses nothing). ``timeout_s`` bounds the wait for the server to
    answer PING, per start attempt [s]. Raises :class:`RedisNotFound` or
    :class:`RedisStartError`.
    """
    binary = find_redis_server()
    root = Path(tempfile.mkdtemp(prefix="ems-redis-", dir=base_dir))
    server = RunningRedis(
        binary=binary,
        dir=root,
        appendonly=appendonly,
        appendfsync=appendfsync,
        timeout_s=timeout_s,
    )
    try:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            server.port = _free_port()
            server._write_config()
            server._launch()
            try:
                server._wait_ready()
            except RedisStartError:
                server._shutdown()
                if "Address already in use" not in server.log_tail() or attempt == _PORT_ATTEMPTS:
                    raise
                continue
            break
    except BaseException:
        server.stop()
        raise
    return server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(host: str, port: int) -> bool:
    """Whether a server at ``host:port`` answers PING with PONG right now."""
    try:
        with socket.create_connection((host, port), timeout=_PING_TIMEOUT_S) as sock:
            sock.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(256)
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"+PONG")
