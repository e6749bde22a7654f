"""The auth service on PostgreSQL, as an operator sets it up from the README alone.

``EMS_AUTH_DATABASE_URL=postgresql://…``, then ``ems auth migrate``, ``ems auth
create-user`` and ``ems auth serve``, each its own process as in production,
against a fresh database on the session's throwaway server. Django's PostgreSQL
backend needs ``psycopg``: this fails unless the lock file installs it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from ems.cloud.auth.jwt import Claims, JwtVerifier, jwks_from_url
from support.processes import free_port, running

PASSWORD = "a passphrase for the postgres test"
TIMEOUT_S = 60.0  # the first start applies the migrations


@pytest.fixture
def auth_database_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's server; dropped afterwards."""
    name = f"auth_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(postgres_url, f"CREATE DATABASE {name}"))
    yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    asyncio.run(_execute(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


def _ems_auth(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("EMS_")}
    return subprocess.run(
        [sys.executable, "-m", "ems.cli", "auth", *argv],
        capture_output=True,
        text=True,
        env={**environment, **env},
        timeout=TIMEOUT_S,
        check=False,
    )


async def _verify(base: str, access: str) -> Claims:
    """The access token as the cloud checks it: against the service's JWKS."""
    async with httpx.AsyncClient() as client:
        verifier = JwtVerifier(
            jwks_from_url(f"{base}/auth/jwks.json", client), "ems-auth", "ems-cloud"
        )
        return await verifier.verify(access)


def test_migrate_create_a_user_and_log_in_on_postgresql(
    auth_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {"EMS_AUTH_DATABASE_URL": auth_database_url, "EMS_DATA_DIR": str(data_dir)}

    migrated = _ems_auth("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    applied = asyncio.run(
        _fetch(auth_database_url, "SELECT name FROM django_migrations WHERE app = 'emsauth'")
    )
    assert ("0001_initial",) in applied
    assert not (data_dir / "auth.sqlite3").exists()  # the URL was used, not the embedded default

    made = _ems_auth(
        "create-user", "olga", "--role", "operator", "--edge", "site-1",
        env={**env, "EMS_AUTH_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    users = asyncio.run(_fetch(auth_database_url, "SELECT username, role FROM emsauth_user"))
    assert users == [("olga", "operator")]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(["auth", "serve", "--port", str(port)], env) as service:
        service.wait_for(f"running on {base}", TIMEOUT_S)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/auth/healthz").json() == {"status": "ok"}  # the database answers
            wrong = http.post("/auth/token", json={"username": "olga", "password": "not it"})
            assert wrong.status_code == 401
            issued = http.post("/auth/token", json={"username": "olga", "password": PASSWORD})
            assert issued.status_code == 200, issued.text
        claims = asyncio.run(_verify(base, issued.json()["access"]))

    assert (claims.username, claims.role, claims.edges) == ("olga", "operator", {"site-1"})
    [(uid,)] = asyncio.run(_fetch(auth_database_url, "SELECT id FROM emsauth_user"))
    assert claims.uid == uid
