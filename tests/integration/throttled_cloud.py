"""An ``ems cloud`` whose telemetry store takes at most ``--rows-per-s`` values a second.

Run as a child process by ``test_telemetry_overload.py``: a known capacity makes
"twice what the process can store" cheap and deterministic. It creates the
operator ``olga`` and one API key per ``--edge``, prints them as one JSON line
(``{"keys": {...}}``) once listening, and serves until SIGINT/SIGTERM.

    python throttled_cloud.py --port P --data-dir D --rows-per-s R --intake-rows N --edge e1 ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ems.cloud.settings import CloudSettings
from ems.cloud.telemetry import Row, SqliteTelemetryStore

PASSWORD = "overload-Password-1"


class ThrottledStore(SqliteTelemetryStore):
    """SQLite, as slow as a database that takes ``rows_per_s`` values a second."""

    def __init__(self, path: Path, rows_per_s: float) -> None:
        super().__init__(path)
        self._rows_per_s = rows_per_s

    async def write(self, rows: Sequence[Row]) -> None:
        # The modelled database's write time, not a synchronisation.
        await asyncio.sleep(len(rows) / self._rows_per_s)
        await super().write(rows)


async def serve(args: argparse.Namespace) -> None:
    import ems.authsvc as authsvc
    from ems.cloud.app import create_app
    from ems.cloud.serve import make_server

    settings = CloudSettings(
        host="127.0.0.1",
        port=args.port,
        data_dir=args.data_dir,
        telemetry_intake_rows=args.intake_rows,
        telemetry_batch_rows=args.intake_rows // 4,
        telemetry_write_concurrency=1,  # one writer: capacity is exactly rows_per_s
    )
    store = ThrottledStore(args.data_dir / "telemetry.sqlite3", args.rows_per_s)
    app = create_app(settings, telemetry_store=store)  # configures the auth service

    def accounts() -> dict[str, str]:
        authsvc.create_user("olga", "operator", PASSWORD, edges=["*"])
        return {edge_id: authsvc.create_edge_key(edge_id, "overload") for edge_id in args.edge}

    keys = await asyncio.to_thread(accounts)
    server = make_server(app, settings)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.05)  # uvicorn offers no started event
    print(json.dumps({"keys": keys}), flush=True)
    await task


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows-per-s", type=float, required=True)
    parser.add_argument("--intake-rows", type=int, required=True)
    parser.add_argument("--edge", action="append", default=[])
    args = parser.parse_args()
    from ems.cloud.serve import run_loop

    run_loop(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
