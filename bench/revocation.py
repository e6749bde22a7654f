"""Revocation latency across two real cloud processes (DESIGN section 8: within 1 s).

Starts by itself, on 127.0.0.1 only: a throwaway ``redis-server`` and
PostgreSQL, two ``ems cloud`` processes A and B on them (one data directory,
``--users`` operators made with ``ems auth``). Each user opens a listening
dashboard socket on A and one on B; then, one user after another, the user
logs out through A (``POST /auth/logout``) and the time from sending the
request to each socket's close (4401) is taken: on A the process that served
the logout, on B the one that heard of it only through Redis pub/sub.

Prints one JSON object: per process p50, p99 and max [ms], the budget (1000 ms)
and ``ok``. Exit status 0 when it ran, 1 when it could not.

    .venv/bin/python bench/revocation.py [--users 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.postgres import start_postgres
from support.redis import start_redis
from support.site import PASSWORD, CloudSite

BUDGET_MS = 1000.0


async def _listening(site: CloudSite, token: str) -> ClientConnection:
    ws = await connect(site.ws(f"/ws/ui?token={token}"))
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if hello.get("type") != "auth_ok":
        raise RuntimeError(f"not authenticated: {hello}")
    return ws


async def _closed_at(ws: ClientConnection) -> tuple[float, int]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return time.perf_counter(), -1 if closed.rcvd is None else closed.rcvd.code


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(a: CloudSite, b: CloudSite, users: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"a": [], "b": []}
    async with httpx.AsyncClient() as client:
        for user in users:
            r = await client.post(
                a.http("/auth/token"), json={"username": user, "password": PASSWORD}
            )
            token = r.json()["access"]
            on_a, on_b = await _listening(a, token), await _listening(b, token)
            waits = [asyncio.create_task(_closed_at(ws)) for ws in (on_a, on_b)]
            start = time.perf_counter()
            r = await client.post(
                a.http("/auth/logout"), headers={"Authorization": f"Bearer {token}"}
            )
            if r.status_code != 200:
                raise RuntimeError(f"logout of {user}: {r.status_code} {r.text}")
            for name, wait in zip(("a", "b"), waits, strict=True):
                at, code = await wait
                if code != 4401:
                    raise RuntimeError(f"{user}'s socket on {name} closed with {code}")
                out[name].append((at - start) * 1000.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    args = parser.parse_args()
    users = [f"user{i}" for i in range(args.users)]
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            start_redis() as redis,
            start_postgres() as postgres,
        ):
            shared = {"EMS_REDIS_URL": redis.url, "EMS_DATABASE_URL": postgres.dsn}
            a = CloudSite(Path(tmp), env={**shared, "EMS_NODE_ID": "bench-a"})
            b = CloudSite(Path(tmp), env={**shared, "EMS_NODE_ID": "bench-b"})
            for user in users:
                a.create_user(user, "operator", ("*",))
            try:
                a.start_cloud()
                b.start_cloud()
                figures = asyncio.run(_measure(a, b, users))
            finally:
                b.stop()
                a.stop()
    except Exception as exc:
        print(f"could not run: {exc!r}", file=sys.stderr)
        return 1
    result: dict[str, Any] = {"users": args.users, "budget_ms": BUDGET_MS}
    for name, values in figures.items():
        result[f"close_ms_{name}"] = {
            "p50": round(statistics.median(values), 1),
            "p99": round(_percentile(values, 0.99), 1),
            "max": round(max(values), 1),
        }
    result["ok"] = all(max(v) <= BUDGET_MS for v in figures.values())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
