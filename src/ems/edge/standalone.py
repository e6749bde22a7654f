"""``ems edge --standalone``: the edge without a cloud, with a live table of its channels."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ems.clock import RealClock
from ems.dal import Sample, Snapshot
from ems.edge.config import EdgeConfig
from ems.edge.runtime import EdgeRuntime
from ems.timefmt import to_rfc3339

__all__ = ["render_table", "run_standalone"]


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


async def _serve(runtime: EdgeRuntime, show_table: bool, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    edge = asyncio.create_task(runtime.run(stop))
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
        if not edge.done():
            await edge


def run_standalone(config: EdgeConfig, show_table: bool = True) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit code."""
    runtime = EdgeRuntime(config, RealClock())
    console = Console(stderr=False)
    asyncio.run(_serve(runtime, show_table, console))
    stats = runtime.cycle.stats
    console.print(
        f"stopped after {stats.cycles} cycles, {stats.overruns} overruns, "
        f"{stats.controller_errors} controller errors"
    )
    return 0
