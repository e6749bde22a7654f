"""Cost of one audit record against one stdlib log line carrying the same fields.

Both go through the same JSON formatter and handler (to /dev/null): the native
structlog path of :mod:`ems.audit` and ``logging.info(..., extra=…)`` through
structlog's ``ProcessorFormatter``, the way audit records were written before.
Prints JSON: microseconds per line for each.

    .venv/bin/python bench/audit_log.py [--lines 20000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable

from ems.audit import AuditTrail
from ems.logs import configure_logging

CID = "123e4567-e89b-42d3-a456-426614174000"


def per_line_us(write: Callable[[int], None], lines: int) -> float:
    for i in range(lines // 10):  # warm-up
        write(i)
    started = time.perf_counter()
    for i in range(lines):
        write(i)
    return (time.perf_counter() - started) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    configure_logging("INFO", json=True)
    real_stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the handler writes here until exit
    trail = AuditTrail("cloud")
    stdlib = logging.getLogger("ems.audit.stdlib")
    fields = {"user": "alice", "edge_id": "site-1", "status": "received", "reason": None}

    def native(i: int) -> None:
        trail.record("cloud.received", CID, 1.7e9 + i, **fields)  # type: ignore[arg-type]

    def through_stdlib(i: int) -> None:
        stdlib.info(
            "command %s %s",
            CID,
            "cloud.received",
            extra={"event_type": "cloud.received", "command_id": CID, **fields},
        )

    result = {
        "lines": args.lines,
        "native_structlog_us_per_line": round(per_line_us(native, args.lines), 2),
        "stdlib_processor_formatter_us_per_line": round(per_line_us(through_stdlib, args.lines), 2),
    }
    sys.stderr = real_stderr
    print(json.dumps(result))


if __name__ == "__main__":
    main()
