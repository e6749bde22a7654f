"""Config pushes to an HA pair: the leader commits a config to the table right before it
swaps it in, the other box applies it from the table (at once, or when it rejoins), and
the leader's ack says what the pair made of it."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.configsync import APPLIED_CONFIG_FILE, AppliedConfigFile, ConfigApplier
from ems.edge.ha.configs import PairConfigs
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import LocalReplica
from ems.edge.ha.table import LeaseTable
from ems.edge.runtime import EdgeRuntime
from ems.protocol import EdgeConfigAck, EdgeConfigPush, reasons

T0 = 1_780_000_000.0
#: Only a hang reaches it.
WAIT_S = 20.0


def document(target_grid_w: float = 0.0) -> dict[str, Any]:
    return {
        "edge_id": "site-pair",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [
            {"id": "battery_1", "profile": "battery", "simulator": "battery"},
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {"id": "load", "profile": "load_meter", "simulator": "load_meter"},
        ],
        "controllers": [
            {
                "id": "self_consumption",
                "type": "self_consumption",
                "priority": 10,
                "params": {"target_grid_w": target_grid_w},
            }
        ],
    }


class Committed(LocalReplica):
    """The table in this process; an event once a config is committed."""

    def __init__(self, table: LeaseTable) -> None:
        super().__init__(table)
        self.committed = asyncio.Event()

    async def publish_config(self, token: int, version: int, config: dict[str, Any]) -> bool:
        ok = await super().publish_config(token, version, config)
        if ok:
            self.committed.set()
        return ok


class Pair:
    def __init__(self, root: Path) -> None:
        self.clock = VirtualClock(T0)
        self.table = LeaseTable()
        self.replica = Committed(self.table)
        self.runtimes: dict[str, EdgeRuntime] = {}
        self.configs: dict[str, PairConfigs] = {}
        token = self.table.acquire("a", self.clock.time(), 1.0).token
        for node, peer in (("a", "b"), ("b", "a")):
            state_dir = root / node
            runtime = EdgeRuntime(parse_edge_config(document()), self.clock, state_dir=state_dir)
            lease = LocalLease(self.clock.monotonic, 1.0, 0.3)
            if node == "a":  # a leads
                lease.granted(self.clock.monotonic(), token)
                lease.enable()
            applier = ConfigApplier(runtime, AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE))
            self.runtimes[node] = runtime
            self.configs[node] = PairConfigs(
                node, peer, applier, self.replica, lease, self.clock, peer_wait_s=5.0
            )

    def target_w(self, node: str) -> float:
        params = self.runtimes[node].config.controllers[0].params
        return float(params["target_grid_w"])


async def _finish(pair: Pair, task: asyncio.Task[EdgeConfigAck]) -> EdgeConfigAck:
    """Virtual time runs until ``task`` ends (the leader's ack waits on it for b)."""
    async with asyncio.timeout(WAIT_S):
        while not task.done():
            await pair.clock.advance_async(0.1)
    return task.result()


def _push(version: int, doc: dict[str, Any]) -> EdgeConfigPush:
    return EdgeConfigPush(version=version, config=copy.deepcopy(doc))


@pytest.mark.asyncio
async def test_both_boxes_apply_a_push_and_the_ack_says_so(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    leader = asyncio.create_task(pair.configs["a"].apply(_push(1, document(500.0))))
    async with asyncio.timeout(WAIT_S):
        await pair.replica.committed.wait()
    follower_ack = await pair.configs["b"].follow()
    assert follower_ack is not None and follower_ack.status == "applied"
    ack = await _finish(pair, leader)
    assert (ack.status, ack.version) == ("applied", 1)
    assert ack.detail == "applied by a (in control) and by b"
    assert pair.target_w("a") == pair.target_w("b") == 500.0
    assert pair.table.config_version == 1
    assert {n: o.status for n, o in pair.table.config_outcomes.items()} == {
        "a": "applied",
        "b": "applied",
    }
    assert await pair.configs["b"].follow() is None  # nothing newer: nothing done


@pytest.mark.asyncio
async def test_a_box_that_was_down_applies_the_config_when_it_rejoins(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    leader = asyncio.create_task(pair.configs["a"].apply(_push(1, document(500.0))))
    ack = await _finish(pair, leader)  # b is down: nobody answers within peer_wait_s
    assert ack.status == "applied"
    assert ack.detail is not None and "b: not confirmed within 5 s" in ack.detail
    assert "applies version 1 when it rejoins" in ack.detail
    assert pair.target_w("b") == 0.0
    # b rejoins: the table (replayed to it by Raft) has version 1.
    follower_ack = await pair.configs["b"].follow()
    assert follower_ack is not None and follower_ack.status == "applied"
    assert pair.target_w("b") == 500.0
    saved = AppliedConfigFile(tmp_path / "b" / APPLIED_CONFIG_FILE).load()
    assert saved is not None and saved.version == 1


@pytest.mark.asyncio
async def test_a_config_the_leader_refuses_never_reaches_the_table(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    bad = document()
    bad["controllers"][0]["params"]["target_grid_w"] = "lots"
    ack = await pair.configs["a"].apply(_push(1, bad))
    assert (ack.status, ack.reason) == ("rejected", "invalid_config")
    assert pair.table.config_version == 0
    assert await pair.configs["b"].follow() is None


@pytest.mark.asyncio
async def test_without_the_quorum_the_old_config_runs_on(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    pair.replica.reachable = False
    ack = await pair.configs["a"].apply(_push(1, document(500.0)))
    assert (ack.status, ack.reason) == ("rejected", reasons.HA_NOT_REPLICATED)
    assert pair.target_w("a") == 0.0
    assert pair.configs["a"].version is None


@pytest.mark.asyncio
async def test_a_push_to_the_box_not_in_control_is_refused(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    ack = await pair.configs["b"].apply(_push(1, document(500.0)))
    assert (ack.status, ack.reason) == ("rejected", reasons.NOT_LEADER)
    assert pair.table.config_version == 0


@pytest.mark.asyncio
async def test_a_change_that_needs_a_restart_is_refused_for_the_pair(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    doc = document()
    doc["cycle"] = {"period_s": 0.5}
    ack = await pair.configs["a"].apply(_push(1, doc))
    assert (ack.status, ack.reason) == ("rejected", "restart_required")
    assert pair.table.config_version == 0
