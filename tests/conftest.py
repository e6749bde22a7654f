"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# The telemetry store contract lives in the package (both backends' tests run it):
# rewrite its asserts so a failure shows the values, as in a test module.
pytest.register_assert_rewrite("ems.cloud.telemetry.testing")

from ems.testing.postgres import PostgresNotFound, find_postgres_bin, start_postgres  # noqa: E402


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
