"""The ``ems`` command line."""

from __future__ import annotations

import argparse
import sys
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

from ems import __version__
from ems.errors import EmsError
from ems.logs import configure_logging

__all__ = ["main"]


def _start_time(text: str | None, tz_name: str) -> float:
    """``--start``: RFC 3339, or a date (local midnight at the site); default today."""
    tz = zoneinfo.ZoneInfo(tz_name)
    if text is None:
        return datetime.combine(datetime.now(tz).date(), time(), tz).timestamp()
    try:
        if "T" in text.upper():
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=tz)
            return parsed.timestamp()
        return datetime.combine(date.fromisoformat(text), time(), tz).timestamp()
    except ValueError:
        raise EmsError(f"--start {text!r}: expected a date (2026-06-21) or RFC 3339 time") from None


def _cmd_edge(args: argparse.Namespace) -> int:
    from ems.edge.config import load_edge_config
    from ems.edge.standalone import run_standalone

    config = load_edge_config(args.config)
    if not args.standalone:
        print(
            "ems edge: connecting to a cloud is not available yet; run with --standalone",
            file=sys.stderr,
        )
        return 2
    from ems.edge.simulate import parse_command

    commands = [parse_command(c) for c in args.command]
    return run_standalone(config, show_table=not args.no_table, commands=commands)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ems.edge.config import load_edge_config
    from ems.edge.standalone import run_standalone

    # Until the cloud exists the demo is the demo site's edge on its own.
    return run_standalone(load_edge_config(None), show_table=not args.no_table)


def _cmd_simulate(args: argparse.Namespace) -> int:
    import time as _time

    from ems.edge.config import load_edge_config
    from ems.edge.simulate import parse_command, simulate

    config = load_edge_config(args.config)
    commands = [parse_command(c) for c in args.command]
    start_s = _start_time(args.start, config.site.timezone)
    began = _time.perf_counter()
    with args.out.open("w", newline="", encoding="utf-8") as out:
        result = simulate(config, start_s, args.hours, out, commands)
    elapsed = _time.perf_counter() - began
    print(
        f"wrote {result.rows} rows × {len(result.columns) + 1} columns to {args.out} "
        f"in {elapsed:.1f} s",
        file=sys.stderr,
    )
    for ack in result.acks:
        reason = f" ({ack['reason']}: {ack['detail']})" if ack.get("reason") else ""
        print(f"  {ack['at']} {ack['command_id']} {ack['status']}{reason}", file=sys.stderr)
    return 0


def _cmd_protocol_schema(args: argparse.Namespace) -> int:
    import json

    from ems.protocol import frame_schemas

    print(json.dumps(frame_schemas(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ems", description="Energy Management System: edge runtime and tools."
    )
    parser.add_argument("--version", action="version", version=f"ems {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    edge = sub.add_parser("edge", help="run a site's edge", description="Run a site's edge.")
    edge.add_argument("--config", type=Path, help="edge YAML (default: the demo site)")
    edge.add_argument(
        "--standalone", action="store_true", help="run without a cloud (simulated devices only)"
    )
    edge.add_argument("--no-table", action="store_true", help="no live table; logs only")
    edge.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="HH:MM[:SS],DEVICE,ACTION,VALUE",
        help="with --standalone: deliver a command this long after the start (repeatable)",
    )
    edge.set_defaults(func=_cmd_edge)

    demo = sub.add_parser(
        "demo", help="run the demo site", description="Run the demo site (site-1) in one process."
    )
    demo.add_argument("--no-table", action="store_true", help="no live table; logs only")
    demo.set_defaults(func=_cmd_demo)

    sim = sub.add_parser(
        "simulate",
        help="run a site in virtual time and write a CSV",
        description=(
            "Run the edge in virtual time as fast as possible and write one CSV row per "
            "cycle: 'timestamp' (RFC 3339 UTC) and one column per input and output channel "
            "(device channels and _sum totals; the host-dependent _cycle timings are left out)."
        ),
    )
    sim.add_argument("--config", type=Path, help="edge YAML (default: the demo site)")
    sim.add_argument("--hours", type=float, required=True, help="simulated hours")
    sim.add_argument("--out", type=Path, required=True, help="CSV file to write")
    sim.add_argument(
        "--start",
        help="start: a date (local midnight at the site) or RFC 3339 time; default today",
    )
    sim.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="HH:MM,DEVICE,ACTION,VALUE",
        help="deliver a command at this time after the start (repeatable), e.g. "
        "01:00,battery_1,set_active_power,-3000",
    )
    sim.set_defaults(func=_cmd_simulate)

    protocol = sub.add_parser(
        "protocol", help="the wire protocol", description="Facts about the wire protocol."
    )
    protocol_sub = protocol.add_subparsers(dest="protocol_command", required=True, metavar="WHAT")
    schema = protocol_sub.add_parser(
        "schema",
        help="print the JSON Schema of every frame",
        description="Print the JSON Schema of every wire frame, grouped by direction.",
    )
    schema.set_defaults(func=_cmd_protocol_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_json)
    try:
        code: int = args.func(args)
    except EmsError as exc:
        print(f"ems {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
