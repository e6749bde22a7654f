"""``ems edge --standalone``: the edge without a cloud, with a live table of its channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ems.clock import RealClock
from ems.dal import Sample, Snapshot
from ems.edge.config import EdgeConfig
from ems.edge.runtime import EdgeRuntime
from ems.edge.simulate import ScheduledCommand, check_commands, to_request
from ems.timefmt import to_rfc3339

__all__ = ["render_table", "run_standalone"]

log = logging.getLogger(__name__)


def _fmt(sample: Sample | None) -> str:
    if sample is None or sample.value is None:
        return "—"
    v = sample.value
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, Mapping):
        status = v.get("status")
        return f"{v.get('command_id')} {status}" if status else f"{v.get('command_id')} pending"
    return str(v)


def render_table(runtime: EdgeRuntime, snapshot: Snapshot) -> Table:
    table = Table(
        title=f"EMS edge {runtime.config.edge_id} — {to_rfc3339(snapshot.taken_at)}",
        expand=False,
    )
    table.add_column("channel")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("age s", justify="right")
    for info in sorted(runtime.store.channels(), key=lambda i: i.address):
        sample = snapshot.get(info.address)
        age = "" if sample is None else f"{snapshot.taken_at - sample.ts:.1f}"
        table.add_row(info.address, _fmt(sample), info.unit or "", age)
    return table


async def _send_commands(
    runtime: EdgeRuntime, commands: Sequence[ScheduledCommand], stop: asyncio.Event
) -> None:
    """Deliver scripted commands at their offsets, as the cloud dispatcher would."""
    clock = runtime.clock
    t0 = clock.monotonic()
    for i, c in enumerate(sorted(commands, key=lambda c: c.offset_s)):
        await clock.sleep_until(t0 + c.offset_s)
        if stop.is_set():
            return
        verdict = runtime.requests.submit(to_request(c, f"cli-{i + 1}", clock.time()))
        log.info(
            "command cli-%d %s %s %s: %s %s",
            i + 1,
            c.device,
            c.action,
            c.value,
            verdict.status,
            verdict.reason or "",
        )


async def _serve(
    runtime: EdgeRuntime,
    show_table: bool,
    console: Console,
    commands: Sequence[ScheduledCommand],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Devices first (may take seconds: the PV day profile): scripted command
    # times count from the first cycle.
    await runtime.prepare()
    edge = asyncio.create_task(runtime.run(stop))
    sender = asyncio.create_task(_send_commands(runtime, commands, stop))
    log.info(
        "edge %s running standalone, %.3g s cycle; Ctrl-C stops it",
        runtime.config.edge_id,
        runtime.config.cycle.period_s,
    )
    try:
        if show_table:
            with Live(console=console, auto_refresh=False, transient=False) as live:
                while not stop.is_set() and not edge.done():
                    live.update(render_table(runtime, runtime.store.snapshot()), refresh=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), runtime.config.cycle.period_s)
        await edge
    finally:
        stop.set()
        sender.cancel()
        if not edge.done():
            await edge


def run_standalone(
    config: EdgeConfig,
    show_table: bool = True,
    commands: Sequence[ScheduledCommand] = (),
    state_dir: Path | None = None,
) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit code. With ``state_dir`` the
    manual hold and mode survive a restart."""
    runtime = EdgeRuntime(config, RealClock(), isolate_models=True, state_dir=state_dir)
    check_commands(runtime, commands)
    console = Console(stderr=False)
    asyncio.run(_serve(runtime, show_table, console, commands))
    stats = runtime.cycle.stats
    console.print()
    console.print(
        f"stopped after {stats.cycles} cycles, {stats.overruns} overruns, "
        f"{stats.controller_errors} controller errors"
    )
    return 0
