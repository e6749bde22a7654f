"""``ems edge --cloud URL``: the edge connected to a cloud, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import httpx

from ems.clock import RealClock
from ems.edge.config import EdgeConfig
from ems.edge.executions import EXECUTIONS_FILE, ExecutionLog
from ems.edge.link import CloudLink, load_profiles_for_start
from ems.edge.metrics import EdgeMetrics, serve_metrics
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError

__all__ = ["add_edge_log_file", "read_api_key", "run_connected", "serve_connected"]

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
    config: EdgeConfig, url: str, api_key: str, state_dir: Path, stop: asyncio.Event
) -> EdgeRuntime:
    """Run the edge and its cloud link until ``stop`` is set; returns the runtime."""
    async with httpx.AsyncClient() as client:
        profiles, source = await load_profiles_for_start(config, state_dir, client, url=url)
    log.info("edge %s: device profiles from %s", config.edge_id, source)
    executions = ExecutionLog(state_dir / EXECUTIONS_FILE)
    try:
        runtime = EdgeRuntime(
            config,
            RealClock(),
            profiles=profiles,
            isolate_models=True,
            executions=executions,
            state_dir=state_dir,
        )
        await runtime.prepare()
        link = CloudLink(runtime, url, api_key, state_dir, refresh_profiles=source != "cloud")
        with contextlib.ExitStack() as stack:
            if config.metrics.enabled:
                metrics = EdgeMetrics(runtime, link)
                stack.enter_context(
                    serve_metrics(metrics, config.metrics.host, config.metrics.port)
                )
            # The link first: it watches the cycle before the first cycle runs.
            await asyncio.gather(link.run(stop), runtime.run(stop))
    finally:
        executions.close()
    return runtime


def add_edge_log_file(config: EdgeConfig, state_dir: Path) -> Path | None:
    """The edge's rotating JSON-lines log (``logging`` in its YAML); returns its path."""
    if not config.logging.enabled:
        return None
    from ems.logs import add_log_file

    directory = config.logging.directory or state_dir / "logs"
    path = directory / f"edge-{config.edge_id}.log"
    add_log_file(
        path,
        config.logging.max_bytes,
        config.logging.backups,
        {"service": "ems-edge", "edge_id": config.edge_id},
    )
    return path


def run_connected(config: EdgeConfig, url: str, api_key: str, state_dir: Path) -> int:
    path = add_edge_log_file(config, state_dir)
    if path is not None:
        log.info("edge %s logs to %s", config.edge_id, path)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("edge %s connecting to %s; Ctrl-C stops it", config.edge_id, url)
        runtime = await serve_connected(config, url, api_key, state_dir, stop)
        stats = runtime.cycle.stats
        log.info(
            "edge %s stopped after %d cycles, %d overruns",
            config.edge_id,
            stats.cycles,
            stats.overruns,
        )

    asyncio.run(main())
    return 0
