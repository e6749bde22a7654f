"""How a connected edge process lives: its log file, and SIGINT/SIGTERM ending the run.

``ems edge --cloud`` (a single box) and ``ems edge --ha-node`` (one box of a
pair) start and stop the same way; only what runs in between differs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from ems.edge.config import EdgeConfig
from ems.edge.runtime import EdgeRuntime

__all__ = ["add_edge_log_file", "run_until_signalled"]

log = logging.getLogger(__name__)


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


def run_until_signalled(
    config: EdgeConfig,
    state_dir: Path,
    serve: Callable[[asyncio.Event], Awaitable[EdgeRuntime]],
    started: str,
) -> int:
    """Run ``serve(stop)`` in a new event loop; SIGINT or SIGTERM sets ``stop``.

    ``started``: what the log says once the handlers are in place (how it runs)."""
    path = add_edge_log_file(config, state_dir)
    if path is not None:
        log.info("edge %s logs to %s", config.edge_id, path)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("edge %s %s; Ctrl-C stops it", config.edge_id, started)
        try:
            runtime = await serve(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        stats = runtime.cycle.stats
        log.info(
            "edge %s stopped after %d cycles, %d overruns",
            config.edge_id,
            stats.cycles,
            stats.overruns,
        )

    asyncio.run(main())
    return 0
