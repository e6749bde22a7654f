"""A real ``ems edge`` killed with SIGKILL just after sending a final ack sends it again
after its restart.

The cloud that read that ack may have died with it (or the connection broke
before the cloud read it): without a resend, its watchdog would report
``edge_timeout`` for a command that ran. The cloud here is scripted
(:class:`~ems.testing.fake_cloud.FakeCloud`) so the test sees exactly which
frames arrive on which connection, and it never delivers the command again:
the ack on the new connection can only come from the edge's journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ems.edge.config import demo_config_path
from ems.testing.fake_cloud import FakeCloud
from ems.testing.processes import EmsProcess

EDGE = "site-9"
#: How long an edge process may take from spawn to its first cycle on a busy machine [s].
START_S = 60.0


def edge_config(path: Path) -> Path:
    """The demo site with a resend window that outlasts a slow restart.

    The default (10 s) is about the cloud's watchdog; a loaded test machine can
    take longer than that to start Python again, and the window's length is not
    what this test is about.
    """
    document = yaml.safe_load(demo_config_path().read_text("utf-8"))
    document["commands"]["ack_resend_window_s"] = 2 * START_S
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def start_edge(cloud: FakeCloud, data: Path) -> EmsProcess:
    key = data / "edge.key"
    key.write_text("any-key-the-fake-cloud-accepts\n")
    return EmsProcess(
        [
            "edge",
            "--config",
            str(edge_config(data / "edge.yaml")),
            "--cloud",
            cloud.url,
            "--edge-id",
            EDGE,
            "--api-key-file",
            str(key),
            "--data-dir",
            str(data),
            "--no-table",
        ]
    )


async def started(cloud: FakeCloud, since: datetime) -> None:
    """The edge is connected and its cycle runs (a frame taken after ``since`` arrived)."""
    await cloud.next("inventory", timeout_s=START_S)
    await cloud.next("telemetry", lambda f: f.ts >= since, timeout_s=START_S)


@pytest.mark.asyncio
async def test_a_final_ack_sent_just_before_a_sigkill_is_sent_again_after_the_restart(
    tmp_path: Path,
) -> None:
    async with FakeCloud(serve_profiles=True) as cloud:
        edge = start_edge(cloud, tmp_path)
        try:
            await started(cloud, datetime.now(UTC))
            command = cloud.command(value=-600.0, deadline_in_s=60)
            await cloud.send(command)
            await cloud.ack_for(command.command_id, "delivered")
            executed = await cloud.ack_for(command.command_id, "executed")
            assert edge.kill() != 0  # SIGKILL: nothing runs on the way out
            sessions = cloud.sessions

            edge = start_edge(cloud, tmp_path)
            again = await cloud.next(
                "ack", lambda a: a.command_id == command.command_id, timeout_s=START_S
            )
            assert cloud.sessions == sessions + 1  # on the restarted edge's connection
            assert (again.status, again.reason, again.at) == ("executed", None, executed.at)
            assert not cloud.invalid
        finally:
            edge.stop()
