"""``ems edge --standalone``: the edge without a cloud, with a live table of its channels.

``run_for_s`` stops it by itself that long after the first cycle (exit 0, as on
Ctrl-C); ``out`` records one CSV row per cycle in the shape of ``ems
simulate`` (:mod:`ems.edge.site_csv`), flushed row by row so a run stopped
any way leaves every row it recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ems.clock import RealClock
from ems.dal import Sample, Snapshot
from ems.edge.config import EdgeConfig
from ems.edge.lifetime import add_edge_log_file
from ems.edge.runtime import EdgeRuntime
from ems.edge.simulate import ScheduledCommand, check_commands, to_request
from ems.edge.site_csv import SiteCsvWriter
from ems.errors import EmsError
from ems.timefmt import to_rfc3339

__all__ = ["render_table", "run_standalone"]

log = logging.getLogger(__name__)

#: Written last in every cycle (:class:`~ems.edge.cycle.EdgeCycle`): the cycle is done.
_CYCLE_INDEX = "_cycle/Index"


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


async def _stop_after(runtime: EdgeRuntime, run_for_s: float, stop: asyncio.Event) -> None:
    clock = runtime.clock
    await clock.sleep_until(clock.monotonic() + run_for_s)
    log.info("ran for %.3g s; stopping", run_for_s)
    stop.set()


def _record_cycles(runtime: EdgeRuntime, rows: SiteCsvWriter, out: TextIO) -> Callable[[], None]:
    """Write a row after every cycle; returns the function that stops recording."""
    loop = asyncio.get_running_loop()

    def write_row(view: Snapshot) -> None:
        rows.write(view)
        out.flush()

    def cycle_done(_address: str, _sample: Sample) -> None:
        # On the cycle's thread, just after its writes: the row is what this cycle saw
        # and wrote, not what the device threads published since (a PV reading newer
        # than the virtual meter computed from the older one would make a row that
        # does not add up). The file is written on the loop, off the cycle's thread.
        view = runtime.cycle.last_view
        if view is not None:
            loop.call_soon_threadsafe(write_row, view)

    return runtime.store.watch(_CYCLE_INDEX, cycle_done)


async def _serve(
    runtime: EdgeRuntime,
    show_table: bool,
    console: Console,
    commands: Sequence[ScheduledCommand],
    run_for_s: float | None = None,
    record: tuple[SiteCsvWriter, TextIO] | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Devices first (may take seconds: the PV day profile): scripted command
    # times and --for count from the first cycle.
    await runtime.prepare()
    unwatch = None if record is None else _record_cycles(runtime, *record)
    edge = asyncio.create_task(runtime.run(stop))
    sender = asyncio.create_task(_send_commands(runtime, commands, stop))
    timer = (
        None if run_for_s is None else asyncio.create_task(_stop_after(runtime, run_for_s, stop))
    )
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
        if timer is not None:
            timer.cancel()
        if not edge.done():
            await edge
        await asyncio.sleep(0)  # the last cycle's row, handed over just before the cycle ended
        if unwatch is not None:
            unwatch()


def run_standalone(
    config: EdgeConfig,
    show_table: bool = True,
    commands: Sequence[ScheduledCommand] = (),
    state_dir: Path | None = None,
    run_for_s: float | None = None,
    out: Path | None = None,
) -> int:
    """Run until SIGINT/SIGTERM, or for ``run_for_s`` seconds of cycles; returns the
    process exit code. With ``state_dir`` the manual hold and mode survive a restart
    and the log is written to its rotating file, as a connected edge's is; with
    ``out`` every cycle is recorded there as a CSV row."""
    if run_for_s is not None and not (0 < run_for_s < float("inf")):
        raise EmsError(f"--for {run_for_s}: must be a positive number of seconds")
    if state_dir is not None:  # a try-out run without a data dir leaves no files behind
        path = add_edge_log_file(config, state_dir)
        if path is not None:
            log.info("edge %s logs to %s", config.edge_id, path)
    runtime = EdgeRuntime(config, RealClock(), isolate_models=True, state_dir=state_dir)
    check_commands(runtime, commands)
    console = Console(stderr=False)
    with contextlib.ExitStack() as files:
        record = None
        if out is not None:
            try:
                stream = files.enter_context(out.open("w", newline="", encoding="utf-8"))
            except OSError as exc:
                raise EmsError(f"--out {out}: cannot write: {exc.strerror}") from None
            record = (SiteCsvWriter(runtime.store, stream), stream)
        asyncio.run(_serve(runtime, show_table, console, commands, run_for_s, record))
    stats = runtime.cycle.stats
    console.print()
    console.print(
        f"stopped after {stats.cycles} cycles, {stats.overruns} overruns, "
        f"{stats.controller_errors} controller errors"
    )
    if record is not None:
        log.info(
            "wrote %d rows × %d columns to %s", record[0].rows, len(record[0].columns) + 1, out
        )
    return 0
