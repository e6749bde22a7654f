"""A real ``ems edge`` killed with SIGKILL just after sending a final ack sends it again
after its restart.

The cloud that read that ack may have died with it (or the connection broke
before the cloud read it): without a resend, its watchdog would report
``edge_timeout`` for a command that ran. The cloud here is scripted
(:class:`~support.fake_cloud.FakeCloud`) so the test sees exactly which
frames arrive on which connection, and it never delivers the command again:
the ack on the new connection can only come from the edge's journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from support.edge_process import START_S, edge_started, start_edge, write_demo_config
from support.fake_cloud import FakeCloud
from support.processes import EmsProcess


def edge_config(path: Path) -> Path:
    """The demo site with a resend window that outlasts a slow restart.

    The default (10 s) is about the cloud's watchdog; a loaded test machine can
    take longer than that to start Python again, and the window's length is not
    what this test is about.
    """

    def change(document: dict[str, Any]) -> None:
        document["commands"]["ack_resend_window_s"] = 2 * START_S

    return write_demo_config(path, change)


def start(cloud: FakeCloud, data: Path) -> EmsProcess:
    return start_edge(cloud, data, edge_config(data / "edge.yaml"))


@pytest.mark.asyncio
async def test_a_final_ack_sent_just_before_a_sigkill_is_sent_again_after_the_restart(
    tmp_path: Path,
) -> None:
    async with FakeCloud(serve_profiles=True) as cloud:
        edge = start(cloud, tmp_path)
        try:
            await edge_started(cloud, datetime.now(UTC))
            command = cloud.command(value=-600.0, deadline_in_s=60)
            await cloud.send(command)
            await cloud.ack_for(command.command_id, "delivered")
            executed = await cloud.ack_for(command.command_id, "executed")
            assert edge.kill() != 0  # SIGKILL: nothing runs on the way out
            sessions = cloud.sessions

            edge = start(cloud, tmp_path)
            again = await cloud.next(
                "ack", lambda a: a.command_id == command.command_id, timeout_s=START_S
            )
            assert cloud.sessions == sessions + 1  # on the restarted edge's connection
            assert (again.status, again.reason, again.at) == ("executed", None, executed.at)
            assert not cloud.invalid
        finally:
            edge.stop()
