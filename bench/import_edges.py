"""Bulk provisioning time (issue 18: a 1,000-row file in under 10 s).

Writes a CSV of ``--rows`` edges to a throwaway data directory, creates the auth
database there (``ems auth migrate``, not timed), then times one
``ems auth import-edges`` process from start to exit: Python and Django start-up,
checking every row, the transaction and the 0600 key file, as an operator sees it.
The embedded SQLite database, or with ``--postgres`` a throwaway PostgreSQL server
it starts itself on loopback (fsync on, as in production).

Prints one JSON object: rows, seconds (wall clock), budget and ``ok``. Exit status
0 when it ran, 1 when the import failed.

    .venv/bin/python bench/import_edges.py [--rows 1000] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from support.postgres import start_postgres

BUDGET_S = 10.0


def _csv(rows: int) -> str:
    lines = ["organisation,site,edge_id,name,latitude,longitude,profile"]
    lines += [
        f"default,site-{i // 4},edge-{i:05d},Edge {i},{(i % 170) - 85}.5,{(i % 350) - 175}.25,"
        f"{'battery;pv_inverter' if i % 2 else ''}"
        for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


def _ems(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ems.cli", *argv], env=env, capture_output=True, text=True
    )


@contextlib.contextmanager
def _database(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    with start_postgres(database="ems_auth", fsync=True) as server:
        yield server.dsn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="edges in the file")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL (default: SQLite)"
    )
    args = parser.parse_args()
    with _database(args.postgres) as database_url:
        return _run(args.rows, database_url)


def _run(rows: int, database_url: str | None) -> int:
    env = dict(os.environ)
    env.pop("EMS_AUTH_DATABASE_URL", None)
    if database_url:
        env["EMS_AUTH_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory(prefix="ems-bench-import-") as tmp:
        data_dir = Path(tmp) / "data"
        csv_path = Path(tmp) / "edges.csv"
        csv_path.write_text(_csv(rows), encoding="utf-8")
        migrated = _ems("auth", "migrate", "--data-dir", str(data_dir), env=env)
        if migrated.returncode != 0:
            print(migrated.stderr, file=sys.stderr)
            return 1
        keys = Path(tmp) / "keys.csv"
        start = time.perf_counter()
        done = _ems(
            "auth", "import-edges", str(csv_path), "--keys-out", str(keys),
            "--data-dir", str(data_dir), env=env,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        key_lines = len(keys.read_text().splitlines()) - 1
    result = {
        "benchmark": "import_edges",
        "rows": rows,
        "keys_written": key_lines,
        "database": "postgresql" if database_url else "sqlite",
        "seconds": round(seconds, 3),
        "budget_s": BUDGET_S,
        "ok": key_lines == rows and seconds < BUDGET_S,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
