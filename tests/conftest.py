"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# The telemetry store contract lives in the package (both backends' tests run it):
# rewrite its asserts so a failure shows the values, as in a test module.
pytest.register_assert_rewrite("support.conformance.telemetry")

# CI runs the same examples every time (a red CI must mean a change broke
# something); local runs keep exploring, and keep failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
pytest.register_assert_rewrite("support.conformance.shared", "support.conformance.cluster")

from support.postgres import PostgresNotFound, find_postgres_bin, start_postgres  # noqa: E402
from support.redis import RedisNotFound, RunningRedis, find_redis_server, start_redis  # noqa: E402


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """DSN of a throwaway PostgreSQL server shared by the session (superuser, empty database).

    Skips when no PostgreSQL binaries are installed, unless ``CI`` is set: then
    a missing server is a broken CI image, and the tests fail.
    """
    try:
        find_postgres_bin()
    except PostgresNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: integration tests need a real PostgreSQL)")
        pytest.skip(str(exc))
    with start_postgres() as server:
        yield server.dsn


def _require_redis_server() -> None:
    """Skip when ``redis-server`` is not installed, unless ``CI`` is set: then fail."""
    try:
        find_redis_server()
    except RedisNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: integration tests need a real Redis)")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a throwaway Redis server shared by the session (no persistence, database 0).

    Tests share its data set: give every test its own key prefix. Skips when
    ``redis-server`` is not installed, unless ``CI`` is set (then the tests fail).
    """
    _require_redis_server()
    with start_redis() as server:
        yield server.url


@pytest.fixture
def redis_server() -> Iterator[RunningRedis]:
    """A throwaway Redis server of this test's own, to ``restart()`` or ``kill()``.

    Append-only persistence with ``appendfsync always``: every write is on disk
    before its reply, so the data survives a restart, even after a SIGKILL.
    Skips or fails like :func:`redis_url`.
    """
    _require_redis_server()
    with start_redis(appendonly=True, appendfsync="always") as server:
        yield server
