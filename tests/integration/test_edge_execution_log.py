"""A real ``ems edge`` rotates its execution log and still never runs a command twice.

The edge applies enough commands to rotate its log (at the smallest
``executions.max_bytes``) past the file the first one was written to, is
killed with SIGKILL, and loses its record of commands taken (a damaged file
is moved aside at start; here it is simply gone). Restarted, it answers a
repeated delivery of the first command from the execution log, with the files
on disk never more than ``keep_files``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ems.edge.executions import read_executions
from support.edge_process import (
    EDGE_ID,
    START_S,
    edge_started,
    setpoint_w,
    start_edge,
    write_demo_config,
)
from support.fake_cloud import FakeCloud
from support.processes import EmsProcess

MAX_BYTES = 10_000  # the smallest the config allows: about 70 commands a file
KEEP_FILES = 2


def edge_config(path: Path) -> Path:
    """The demo site cycling at 20 Hz (one command a cycle), with a small log."""

    def change(document: dict[str, Any]) -> None:
        document["cycle"] = {"period_s": 0.05}
        document["executions"] = {"max_bytes": MAX_BYTES, "keep_files": KEEP_FILES}

    return write_demo_config(path, change)


def start(cloud: FakeCloud, data: Path) -> EmsProcess:
    return start_edge(cloud, data, edge_config(data / "edge.yaml"))


@pytest.mark.asyncio
async def test_a_command_executed_before_the_log_rotated_is_not_run_again_after_a_crash(
    tmp_path: Path,
) -> None:
    state = tmp_path / "edge" / EDGE_ID
    log_path = state / "executions.jsonl"
    async with FakeCloud(serve_profiles=True) as cloud:
        edge = start(cloud, tmp_path)
        try:
            await edge_started(cloud, datetime.now(UTC))
            first = cloud.command(value=-700.0, deadline_in_s=60)
            await cloud.send(first)
            await cloud.ack_for(first.command_id, "executed")
            # About three files' worth: the first command's own file is merged away.
            for n in range(1, 161):
                later = cloud.command(value=-float(n % 50 + 1), deadline_in_s=60)
                await cloud.send(later)
                await cloud.ack_for(later.command_id, "executed")
                # One more only while a rotation is under way (its oldest file is
                # deleted once its still-needed lines are on disk elsewhere).
                assert len(list(state.glob("executions*.jsonl"))) <= KEEP_FILES + 1
            assert edge.kill() != 0
            segments = sorted(p.name for p in state.glob("executions.*.jsonl"))
            assert "executions.1.jsonl" not in segments  # merged away by a later rotation
            assert first.command_id in {e.command_id for e in read_executions(log_path)}
            (state / "seen-commands.sqlite3").unlink()  # the record of commands taken is lost
            for extra in state.glob("seen-commands.sqlite3-*"):
                extra.unlink()

            restarted_at = datetime.now(UTC)
            edge = start(cloud, tmp_path)
            await edge_started(cloud, restarted_at)
            redelivered_at = datetime.now(UTC)
            await cloud.send(first)  # delivered again
            again = await cloud.next(
                "ack", lambda a: a.command_id == first.command_id, timeout_s=START_S
            )
            assert (again.status, again.reason) == ("executed", None)
            seen = [await setpoint_w(cloud, redelivered_at) for _ in range(5)]
            assert -700.0 not in seen, seen
            edge.wait_for("restored as executed", timeout_s=5)
            assert len(list(state.glob("executions*.jsonl"))) == KEEP_FILES
        finally:
            edge.stop()
