"""The ``ems`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

from ems.commandline import new_parser, run
from ems.errors import EmsError

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


def _data_dir(value: Path | None) -> Path:
    """``--data-dir``, else ``$EMS_DATA_DIR``, else ``./ems-data``."""
    return value or Path(os.environ.get("EMS_DATA_DIR") or "ems-data")


def _cmd_edge(args: argparse.Namespace) -> int:
    from ems.edge.config import load_edge_config

    config = load_edge_config(args.config)
    if args.edge_id:
        config = config.model_validate({**config.model_dump(), "edge_id": args.edge_id})
    if not args.standalone and (args.run_for_s is not None or args.out is not None):
        raise EmsError("--for and --out record a standalone run: add --standalone")
    if args.ha_node and args.standalone:
        raise EmsError("--ha-node runs a pair connected to a cloud: not with --standalone")
    if args.standalone:
        from ems.edge.simulate import parse_command
        from ems.edge.standalone import run_standalone

        commands = [parse_command(c) for c in args.command]
        # Standalone keeps state only where asked to: a try-out run leaves no files behind.
        given = args.data_dir or os.environ.get("EMS_DATA_DIR")
        state_dir = _data_dir(args.data_dir) / "edge" / config.edge_id if given else None
        return run_standalone(
            config,
            show_table=not args.no_table,
            commands=commands,
            state_dir=state_dir,
            run_for_s=args.run_for_s,
            out=args.out,
        )
    from ems.edge.connected import read_api_key, run_connected

    url = args.cloud or config.cloud.url
    if not url:
        raise EmsError(
            "no cloud to connect to: give --cloud URL (or cloud.url in the config), "
            "or run with --standalone"
        )
    key_file = args.api_key_file or config.cloud.api_key_file
    if key_file is None:
        raise EmsError("no API key: give --api-key-file FILE (or cloud.api_key_file)")
    state_dir = _data_dir(args.data_dir) / "edge" / config.edge_id
    from ems.edge.config import demo_config_path
    from ems.edge.configsync import choose_start_config

    # The config the cloud pushed last wins over an older file (ems.edge.configsync.applied).
    config, config_version, source = choose_start_config(
        args.config or demo_config_path(), state_dir, config
    )
    logging.getLogger("ems.edge").info("edge %s starts from its %s", config.edge_id, source)
    if args.ha_node:
        from ems.edge.ha.serve import run_ha

        return run_ha(config, args.ha_node, url, read_api_key(key_file), state_dir, config_version)
    return run_connected(config, url, read_api_key(key_file), state_dir, config_version)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ems.demo import run_demo

    return run_demo(args.port, _data_dir(args.data_dir), host=args.host, config_path=args.config)


def _cmd_cloud(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ems.cloud.serve import run_cloud
    from ems.cloud.settings import CloudSettings

    overrides: dict[str, object] = {"data_dir": _data_dir(args.data_dir)}
    if args.port is not None:
        overrides["port"] = args.port
    if args.host is not None:
        overrides["host"] = args.host
    if args.workers is not None:
        overrides["workers"] = args.workers
    try:
        settings = CloudSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise EmsError(f"settings: {exc}") from None
    return run_cloud(settings)


def _cmd_simulate(args: argparse.Namespace) -> int:
    import json
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
    print(json.dumps(result.summary))
    return 0


def _cmd_devices_scan(args: argparse.Namespace) -> int:
    import json

    from ems.drivers.sunspec import SunSpecError, open_tcp, scan

    try:
        client, regs = open_tcp(args.host, args.port, args.unit_id, args.timeout)
        try:
            found = scan(regs)
        finally:
            client.close()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
    except SunSpecError as exc:
        # Machine-readable on stdout as well, so a script gets the reason code.
        print(json.dumps({"error": exc.reason, "detail": exc.detail}))
        raise EmsError(str(exc)) from None
    print(json.dumps(found, indent=2))
    return 0


def _cmd_devices_serve(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from ems.drivers.sunspec.server import LOOPBACK, run_site
    from ems.drivers.sunspec.site import ServedSite
    from ems.edge.config import load_edge_config

    config = load_edge_config(args.config)
    site = ServedSite.from_config(config)
    kinds = {d.id: d.profile for d in config.devices}

    def ready(ports: dict[str, int]) -> None:
        served = [
            {"device": device_id, "profile": kinds[device_id], "host": LOOPBACK,
             "port": port, "unit_id": 1}
            for device_id, port in ports.items()
        ]  # fmt: skip
        print(json.dumps({"serving": served}), flush=True)

    log_file = None if args.write_log is None else args.write_log.open("a", encoding="utf-8")

    def logged(record: dict[str, object]) -> None:
        assert log_file is not None
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()  # whoever reads it (a test, tail -f) sees each write as it lands

    try:
        asyncio.run(
            run_site(
                site, args.port, config.cycle.period_s, ready, None if log_file is None else logged
            )
        )
    except KeyboardInterrupt:
        return 0
    finally:
        if log_file is not None:
            log_file.close()
    return 0


def _cmd_protocol_schema(args: argparse.Namespace) -> int:
    import json

    from ems.protocol import frame_schemas

    print(json.dumps(frame_schemas(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser, sub = new_parser("Energy Management System: edge runtime and tools.")

    edge = sub.add_parser(
        "edge",
        help="run a site's edge",
        description="Run a site's edge, connected to a cloud or --standalone.",
    )
    edge.add_argument("--config", type=Path, help="edge YAML (default: the demo site)")
    edge.add_argument(
        "--standalone", action="store_true", help="run without a cloud (simulated devices only)"
    )
    edge.add_argument("--cloud", metavar="URL", help="cloud address, e.g. http://host:8000")
    edge.add_argument("--edge-id", metavar="ID", help="override the config's edge_id")
    edge.add_argument("--api-key-file", type=Path, metavar="FILE", help="file holding the key")
    edge.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="state (profile cache, manual hold) under DIR/edge/ID (default: $EMS_DATA_DIR, "
        "else ./ems-data; --standalone keeps state only when DIR or $EMS_DATA_DIR is given)",
    )
    edge.add_argument("--no-table", action="store_true", help="no live table; logs only")
    edge.add_argument(
        "--ha-node",
        metavar="NAME",
        help="run as this node of an HA pair (ha.nodes in the config; DESIGN 18)",
    )
    edge.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="HH:MM[:SS],DEVICE,ACTION,VALUE",
        help="with --standalone: deliver a command this long after the start (repeatable)",
    )
    edge.add_argument(
        "--for",
        dest="run_for_s",
        type=float,
        metavar="SECONDS",
        help="with --standalone: stop by itself (exit 0) this long after the first cycle; "
        "default: run until Ctrl-C or SIGTERM",
    )
    edge.add_argument(
        "--out",
        type=Path,
        metavar="FILE.csv",
        help="with --standalone: record one CSV row per cycle, the columns of 'ems simulate', "
        "until --for ends the run or Ctrl-C/SIGTERM stops it (rows are flushed as written)",
    )
    edge.set_defaults(func=_cmd_edge)

    demo = sub.add_parser(
        "demo",
        help="auth, cloud and the demo site in one process",
        description="Run the auth service, the cloud and the demo site's edge (site-1) in one "
        "process on one port, with embedded stores in the data directory.",
    )
    demo.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any)")
    demo.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    demo.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="default $EMS_DATA_DIR or ./ems-data"
    )
    demo.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="edge YAML (default: the demo site; demo_sunspec.yaml reads `ems devices serve`)",
    )
    demo.set_defaults(func=_cmd_demo)

    cloud = sub.add_parser(
        "cloud",
        help="run the cloud service",
        description="Run the cloud: /ws/edge, /ws/ui, /api, and /auth unless EMS_AUTH_URL "
        "names an external auth service. Settings come from EMS_* variables.",
    )
    cloud.add_argument("--port", type=int, help="port (default $EMS_PORT or 8000)")
    cloud.add_argument("--host", help="address (default $EMS_HOST or 127.0.0.1)")
    cloud.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="cloud processes sharing the port, one per core (default $EMS_WORKERS or 1; "
        "more than 1 needs EMS_REDIS_URL and EMS_DATABASE_URL)",
    )
    cloud.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="default $EMS_DATA_DIR or ./ems-data"
    )
    cloud.set_defaults(func=_cmd_cloud)

    from ems.authsvc.cli import add_auth_parser
    from ems.reports.cli import add_report_parser

    add_auth_parser(sub)
    add_report_parser(sub)
    from ems.edge.ha.cli import add_ha_parser

    add_ha_parser(sub)

    sim = sub.add_parser(
        "simulate",
        help="run a site in virtual time and write a CSV",
        description=(
            "Run the edge in virtual time as fast as possible and write one CSV row per "
            "cycle: 'timestamp' (RFC 3339 UTC) and one column per input and output channel "
            "(device channels, _sum totals, virtual meters; the host-dependent _cycle timings "
            "are left out). 'ems edge --standalone --out' records the live site the same way."
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

    devices = sub.add_parser(
        "devices", help="real devices", description="Find and serve devices on the network."
    )
    devices_sub = devices.add_subparsers(dest="devices_command", required=True, metavar="WHAT")
    scan = devices_sub.add_parser(
        "scan",
        help="print the SunSpec models a Modbus TCP device has, as JSON",
        description="Find the SunS marker (at 40000, 0 or 50000), walk the model chain and "
        "print base, manufacturer/model/serial from model 1, and each model's id, name, "
        "address and length as JSON. On failure prints {error, detail} and exits 2.",
    )
    scan.add_argument("--host", required=True, help="device address")
    scan.add_argument("--port", type=int, default=502, help="Modbus TCP port (default 502)")
    scan.add_argument("--unit-id", type=int, default=1, help="Modbus unit id (default 1)")
    scan.add_argument(
        "--timeout", type=float, default=2.0, metavar="SECONDS", help="per request (default 2)"
    )
    scan.set_defaults(func=_cmd_devices_scan)
    serve = devices_sub.add_parser(
        "serve",
        help="serve a site's simulated PV and batteries as SunSpec devices on loopback",
        description="Step the site's simulated pv_inverter and battery devices in real time "
        "and serve each over Modbus TCP on 127.0.0.1 with a SunSpec map (PV: models 1, 103, "
        "120, 123; battery: 1, 103, 120, 124), ports P, P+1, ... in the config's order. "
        "Writes to the control models become the simulators' setpoints. Prints the devices "
        "and their ports as one JSON line, then runs until interrupted.",
    )
    serve.add_argument("--config", type=Path, help="edge YAML (default: the demo site)")
    serve.add_argument(
        "--port", type=int, default=1502, help="first port (default 1502; 0 = any free ports)"
    )
    serve.add_argument(
        "--write-log",
        type=Path,
        metavar="FILE",
        help="append every write as a JSON line: t, device, address, words, writer (host:port)",
    )
    serve.set_defaults(func=_cmd_devices_serve)

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
    return run(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
