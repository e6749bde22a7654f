"""``ems edge --cloud URL``: the edge connected to a cloud, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from pathlib import Path

import httpx

from ems.clock import Clock, RealClock
from ems.edge.config import EdgeConfig
from ems.edge.configsync import APPLIED_CONFIG_FILE, AppliedConfigFile, ConfigApplier
from ems.edge.executions import EXECUTIONS_FILE, ExecutionLog, read_executions
from ems.edge.lifetime import run_until_signalled
from ems.edge.link import CloudLink, load_profiles_for_start
from ems.edge.link.client import SEEN_COMMANDS_FILE
from ems.edge.link.seen import SeenCommands
from ems.edge.metrics import EdgeMetrics, serve_metrics
from ems.edge.runtime import EdgeRuntime
from ems.edge.sdnotify import notify, watchdog_interval_s, watchdog_loop
from ems.errors import ConfigError

__all__ = [
    "open_command_record",
    "read_api_key",
    "run_connected",
    "serve_connected",
]

log = logging.getLogger(__name__)


def read_api_key(path: Path) -> str:
    """The key from its file (whitespace around it ignored); refused clearly if unusable."""
    try:
        key = path.read_text("utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the API key file: {exc.strerror}") from None
    if not key:
        raise ConfigError(f"{path}: the API key file is empty")
    return key


async def serve_connected(
    config: EdgeConfig,
    url: str,
    api_key: str,
    state_dir: Path,
    stop: asyncio.Event,
    config_version: int | None = None,
) -> EdgeRuntime:
    """Run the edge and its cloud link until ``stop`` is set; returns the runtime.

    ``config_version``: the cloud's version of ``config`` (None: a local file); the
    configs the cloud pushes are applied between cycles and kept in ``state_dir``."""
    async with httpx.AsyncClient() as client:
        profiles, source = await load_profiles_for_start(config, state_dir, client, url=url)
    log.info("edge %s: device profiles from %s", config.edge_id, source)
    clock = RealClock()
    executions = open_execution_log(config, state_dir, clock)
    try:
        runtime = EdgeRuntime(
            config,
            clock,
            profiles=profiles,
            isolate_models=True,
            executions=executions,
            state_dir=state_dir,
        )
        await runtime.prepare()
        seen = open_command_record(state_dir, executions.path, clock)
        try:
            applier = ConfigApplier(
                runtime, AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE), config_version
            )
            link = CloudLink(
                runtime,
                url,
                api_key,
                state_dir,
                refresh_profiles=source != "cloud",
                seen=seen,
                config=applier,
            )
        except BaseException:
            seen.close()  # the link owns it only once built
            raise
        with contextlib.ExitStack() as stack:
            if config.metrics.enabled:
                metrics = EdgeMetrics(runtime, link)
                stack.enter_context(
                    serve_metrics(metrics, config.metrics.host, config.metrics.port)
                )
            # The link first: it watches the cycle before the first cycle runs.
            tasks = [link.run(stop), runtime.run(stop)]
            watchdog_s = watchdog_interval_s()
            if watchdog_s is not None:
                tasks.append(watchdog_loop(lambda: runtime.cycle.stats.cycles, watchdog_s, stop))
            notify("READY=1")  # under systemd Type=notify: devices started, cycle next
            await asyncio.gather(*tasks)
            notify("STOPPING=1")
    finally:
        executions.close()
    return runtime


def open_execution_log(config: EdgeConfig, state_dir: Path, clock: Clock) -> ExecutionLog:
    """The edge's record of executed commands in ``state_dir``, bounded as configured."""
    return ExecutionLog(
        state_dir / EXECUTIONS_FILE,
        max_bytes=config.executions.max_bytes,
        keep_files=config.executions.keep_files,
        clock=clock,
    )


def open_command_record(state_dir: Path, executions_path: Path, clock: Clock) -> SeenCommands:
    """The record of commands taken, with every command the execution log says was applied.

    The execution log is a second, independent file: if the record was lost
    (found damaged and moved aside), the commands this edge applied are still
    never executed again when the cloud delivers them again.
    """
    seen = SeenCommands(state_dir / SEEN_COMMANDS_FILE, clock=clock)
    restored = seen.restore_executed(
        (e.command_id, e.applied_at) for e in read_executions(executions_path)
    )
    if restored:
        log.warning(
            "%d applied command(s) from the execution log were missing from the record of "
            "commands taken; restored as executed",
            restored,
        )
    return seen


def run_connected(
    config: EdgeConfig, url: str, api_key: str, state_dir: Path, config_version: int | None = None
) -> int:
    def serve(stop: asyncio.Event) -> Awaitable[EdgeRuntime]:
        return serve_connected(config, url, api_key, state_dir, stop, config_version)

    return run_until_signalled(config, state_dir, serve, f"connecting to {url}")
