"""A real ``ems edge`` process gets a command twice, across its own crash: it runs once.

The cloud here is scripted (:class:`~support.fake_cloud.FakeCloud`, the real
wire protocol on 127.0.0.1), so the test decides exactly what is delivered
when: the same ``command_id`` again after the edge was killed and restarted,
as a cloud that lost track of a delivery (a crash mid-delivery, a move to
another process) would send it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.edge_process import edge_started, setpoint_w, start_edge
from support.fake_cloud import FakeCloud


@pytest.mark.asyncio
async def test_a_command_delivered_again_after_an_edge_crash_is_answered_not_run(
    tmp_path: Path,
) -> None:
    async with FakeCloud(serve_profiles=True) as cloud:
        edge = start_edge(cloud, tmp_path)
        try:
            await edge_started(cloud, datetime.now(UTC))
            first = cloud.command(value=-700.0, deadline_in_s=60)
            await cloud.send(first)
            await cloud.ack_for(first.command_id, "delivered")
            await cloud.ack_for(first.command_id, "executed")
            newer = cloud.command(value=-300.0, deadline_in_s=60)
            await cloud.send(newer)
            await cloud.ack_for(newer.command_id, "executed")

            assert edge.kill() != 0  # a crash: nothing flushed on the way out
            restarted_at = datetime.now(UTC)
            edge = start_edge(cloud, tmp_path)
            await edge_started(cloud, restarted_at)
            redelivered_at = datetime.now(UTC)
            await cloud.send(first)  # delivered again
            again = await cloud.next("ack", lambda a: a.command_id == first.command_id)
            # Answered from the edge's record, not carried out a second time.
            assert (again.status, again.reason) == ("executed", None)
            # The manual hold lapsed with the crash; what matters is that the old
            # setpoint (-700 W) never comes back.
            seen = [await setpoint_w(cloud, redelivered_at) for _ in range(3)]
            assert -700.0 not in seen, seen
        finally:
            edge.stop()
