"""A throwaway PostgreSQL server for integration tests and benchmarks.

:func:`start_postgres` runs ``initdb`` into a fresh temporary directory, starts
``postgres`` listening on 127.0.0.1 only (a free port; its unix socket inside
that directory), creates one database and returns a :class:`RunningPostgres`
with a DSN. ``stop()`` shuts it down (``pg_ctl stop -m fast``) and deletes the
directory. Use it as a context manager::

    with start_postgres() as pg:
        pool = await asyncpg.create_pool(pg.dsn)

PostgreSQL refuses to run as root, and CI runs tests as root: then every
server command runs as the ``postgres`` system user (``runuser -u postgres --``),
which Debian's ``postgresql`` package creates. We never create that user
ourselves.

The server is for throwaway data: ``fsync=off`` by default (a crash loses
nothing we care about, and tests run faster). TCP connections need the random
password in the DSN; the unix socket (in a directory only the server user can
enter) trusts its peer, which is how ``createdb`` gets in.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from support.server import ThrowawayServer

__all__ = [
    "PostgresNotFound",
    "PostgresStartError",
    "RunningPostgres",
    "find_postgres_bin",
    "start_postgres",
    "timescaledb_installed",
]

_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_SUPERUSER = "postgres"
_SERVICE_USER = "postgres"
_PORT_ATTEMPTS = 3  # another process may grab the free port between our probe and bind


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``) on this machine."""


class PostgresStartError(RuntimeError):
    """The binaries exist but a server could not be set up or started."""


def find_postgres_bin() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Looks on ``PATH`` first (following symlinks, since Debian only links a few
    tools into ``/usr/bin``), then in ``/usr/lib/postgresql/<version>/bin``,
    newest version first. Raises :class:`PostgresNotFound`.
    """
    found = shutil.which("initdb")
    candidates: list[Path] = []
    if found is not None:
        # The real directory first: it also holds the client tools (createdb).
        candidates += [Path(found).resolve().parent, Path(found).parent]
    versions = sorted(
        Path("/").glob(_DEBIAN_BIN_GLOB.lstrip("/")),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
        reverse=True,
    )
    candidates += versions
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in _SERVER_TOOLS):
            return directory
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
        f"{_DEBIAN_BIN_GLOB}: apt-get install postgresql"
    )


def timescaledb_installed() -> bool:
    """Whether the TimescaleDB extension is built for the PostgreSQL found here.

    Tests of the hypertable path skip without it: it is in none of the package
    registries the project installs from, so CI has plain PostgreSQL only.
    """
    try:
        bin_dir = find_postgres_bin()
    except PostgresNotFound:
        return False
    pg_config = bin_dir / "pg_config"
    if not os.access(pg_config, os.X_OK):
        return False
    pkglibdir = subprocess.run(
        [str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(pkglibdir) and (Path(pkglibdir) / "timescaledb.so").exists()


class RunningPostgres(ThrowawayServer):
    """A server started by :func:`start_postgres`; ``stop()`` (or leaving ``with``) ends it."""

    def __init__(
        self,
        *,
        bin_dir: Path,
        root: Path,
        port: int,
        password: str,
        database: str,
        runner: list[str],
    ) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.log_file = root / "postgres.log"
        self.host = "127.0.0.1"
        self.port = port
        self.user = _SUPERUSER
        self.password = password
        self.database = database
        self._runner = runner
        self._stopped = False
        self._start_options: tuple[bool, float, Mapping[str, str]] = (False, 60.0, {})

    @property
    def dsn(self) -> str:
        """``postgresql://…`` for the database created at start (TCP, password auth)."""
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        """The DSN of another database on this server (e.g. one per test)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions), then delete the directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _run(
                    self._tool("pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", 60),
                    cwd=self.root,
                    what="pg_ctl stop",
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def pause(self) -> None:
        """Shut the server down (fast: open transactions roll back) but keep its data.

        Clients see refused connections until :meth:`resume`, as in an outage.
        """
        if self._stopped:
            raise PostgresStartError("pause() after stop(): the directory is gone")
        _run(
            self._tool("pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", 60),
            cwd=self.root,
            what="pg_ctl stop",
        )

    def resume(self) -> None:
        """Start the paused server again on the same port, with the same settings."""
        if self._stopped:
            raise PostgresStartError("resume() after stop(): the directory is gone")
        fsync, timeout_s, settings = self._start_options
        _start(self, fsync=fsync, timeout_s=timeout_s, settings=settings, port=self.port)

    def _tool(self, name: str, *args: object) -> list[str]:
        """The argv running the PostgreSQL tool ``name`` (as the server user when root)."""
        path = self.bin_dir / name
        if not os.access(path, os.X_OK):
            path = Path(_client_tool(self.bin_dir, name))
        return [*self._runner, str(path), *map(str, args)]


def start_postgres(
    base_dir: Path | None = None,
    *,
    database: str = "ems_test",
    fsync: bool = False,
    timeout_s: float = 60.0,
    settings: Mapping[str, str] | None = None,
) -> RunningPostgres:
    """Start a private server in a new directory under ``base_dir`` (default: the temp dir).

    When running as root, the server user must be able to reach ``base_dir``:
    pytest's ``tmp_path`` (under a root-only directory) is not suitable, the
    system temp dir is. ``timeout_s`` bounds the wait for the server to accept
    connections. ``settings`` are more server settings (``-c name=value``), e.g.
    ``{"shared_preload_libraries": "timescaledb"}``. Raises
    :class:`PostgresNotFound` or :class:`PostgresStartError`.
    """
    bin_dir = find_postgres_bin()
    runner = _runner()
    root = Path(tempfile.mkdtemp(prefix="ems-pg-", dir=base_dir))
    password = secrets.token_hex(16)
    server = RunningPostgres(
        bin_dir=bin_dir, root=root, port=0, password=password, database=database, runner=runner
    )
    try:
        _prepare_dir(root, runner)
        _initdb(server)
        _start(server, fsync=fsync, timeout_s=timeout_s, settings=settings or {})
        createdb = ("-h", server.socket_dir, "-p", server.port, "-U", _SUPERUSER, database)
        _run(server._tool("createdb", *createdb), cwd=root, what="createdb")
    except BaseException:
        server.stop()
        raise
    return server


def _client_tool(bin_dir: Path, name: str) -> str:
    path = bin_dir / name
    if os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise PostgresNotFound(f"{name} not found: apt-get install postgresql-client")
    return found


def _runner() -> list[str]:
    """The command prefix that runs server tools as a non-root user ([] when not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        raise PostgresStartError(
            "running as root, and PostgreSQL refuses to run as root; there is no "
            f"`{_SERVICE_USER}` user to run it as: apt-get install postgresql (it creates one)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresStartError("running as root, and `runuser` (util-linux) is missing")
    return [runuser, "-u", _SERVICE_USER, "--"]


def _prepare_dir(root: Path, runner: list[str]) -> None:
    (root / "sock").mkdir(mode=0o700)
    if not runner:
        return
    entry = pwd.getpwnam(_SERVICE_USER)
    for path in (root, root / "sock"):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    # A parent directory may be closed to other users (pytest's tmp_path is):
    # say so plainly instead of letting initdb fail with "permission denied".
    probe = subprocess.run([*runner, "test", "-w", str(root)], check=False, cwd="/")
    if probe.returncode != 0:
        raise PostgresStartError(
            f"user {_SERVICE_USER} cannot write to {root}: pass a base_dir that every "
            "user can traverse (e.g. the system temp dir)"
        )


def _initdb(server: RunningPostgres) -> None:
    pwfile = server.root / "pwfile"
    pwfile.write_text(server.password + "\n")
    if server._runner:
        entry = pwd.getpwnam(_SERVICE_USER)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    pwfile.chmod(0o600)
    try:
        argv = server._tool(
            "initdb", "-D", server.data_dir, "-U", _SUPERUSER, "-E", "UTF8", "--locale=C",
            "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        )  # fmt: skip
        _run(argv, cwd=server.root, what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def _start(
    server: RunningPostgres,
    *,
    fsync: bool,
    timeout_s: float,
    settings: Mapping[str, str],
    port: int | None = None,
) -> None:
    """Start the server: on ``port``, or on a free port (retried if another process takes it)."""
    server._start_options = (fsync, timeout_s, dict(settings))
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        server.port = port if port is not None else _free_port()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {server.port}",
            f"-k {shlex.quote(str(server.socket_dir))}",
            f"-c fsync={'on' if fsync else 'off'}",
            "-c full_page_writes=off" if not fsync else "",
            *(f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items()),
        ]
        # pg_ctl -w polls the server until it accepts connections, up to -t seconds.
        argv = server._tool(
            "pg_ctl", "start", "-D", server.data_dir, "-l", server.log_file,
            "-w", "-t", max(1, int(timeout_s)), "-o", " ".join(o for o in options if o),
        )  # fmt: skip
        result = _run(
            argv, cwd=server.root, what="pg_ctl start", check=False, timeout_s=timeout_s + 30
        )
        if result.returncode == 0:
            return
        log = server.log_tail()
        if "could not bind" not in log or attempt == attempts:
            raise PostgresStartError(
                f"postgres did not start (pg_ctl exit {result.returncode}): "
                f"{result.stderr.strip()}\n{log}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(
    argv: Sequence[str],
    *,
    cwd: Path | str,
    what: str,
    check: bool = True,
    timeout_s: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    # PG* variables from the caller's shell (PGDATA, PGHOST, …) must not redirect our
    # tools; C messages keep "could not bind" matchable.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    result = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout_s
    )
    if check and result.returncode != 0:
        raise PostgresStartError(
            f"{what} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout}"
        )
    return result
