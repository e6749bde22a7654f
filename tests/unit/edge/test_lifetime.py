"""``run_until_signalled``: what ``ems edge --cloud`` and ``--ha-node`` share at start and stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ems.edge.config import load_edge_config
from ems.edge.lifetime import run_until_signalled


@pytest.fixture(autouse=True)
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers, root.level = handlers, level


class _Stats:
    cycles = 7
    overruns = 0


class _Runtime:
    class cycle:  # noqa: N801  # the runtime's attribute, as the helper reads it
        stats = _Stats()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_sets_stop_and_the_run_ends_with_the_log_file_written(
    tmp_path: Path, sig: signal.Signals
) -> None:
    config = load_edge_config(None)
    seen: list[bool] = []

    async def serve(stop: asyncio.Event) -> Any:
        os.kill(os.getpid(), sig)
        async with asyncio.timeout(10):
            await stop.wait()
        seen.append(stop.is_set())
        return _Runtime()

    assert run_until_signalled(config, tmp_path, serve, "under test") == 0
    assert seen == [True]
    log_file = tmp_path / "logs" / "edge-site-1.log"
    text = log_file.read_text("utf-8")
    assert "under test; Ctrl-C stops it" in text
    assert "stopped after 7 cycles" in text
