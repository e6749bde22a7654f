"""Load a day of `ems simulate` into the e2e cloud's telemetry store, as edge site-1.

Run by e2e/fleet.ts before `ems demo` opens the store: each CSV row becomes one
sample per numeric column at its timestamp, the way ingest stores a frame (the
store rolls power channels up as it writes them). Arguments: CSV, data dir, edge.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path

from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from ems.timefmt import parse_rfc3339


async def load(csv_path: Path, data_dir: Path, edge_id: str) -> int:
    rows: list[TelemetryRow] = []
    with csv_path.open(newline="", encoding="utf-8") as f:
        for record in csv.DictReader(f):
            t_s = parse_rfc3339(record.pop("timestamp"))
            for channel, text in record.items():
                try:
                    value = float(text)
                except ValueError:
                    continue  # empty or text: not a number the charts read
                rows.append(TelemetryRow(t_s, edge_id, channel, value, None))
    store = SqliteTelemetryStore(data_dir / "telemetry.sqlite3")
    await store.start()
    try:
        for at in range(0, len(rows), 5000):
            await store.write(rows[at : at + 5000])
    finally:
        await store.close()
    return len(rows)


if __name__ == "__main__":
    count = asyncio.run(load(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
    print(f"loaded {count} samples", file=sys.stderr)
