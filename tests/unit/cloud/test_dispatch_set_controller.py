"""set_controller in the cloud: checked against the controllers the edge advertised,
routed like every command, its edge's verdict carried to the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from dispatch_fakes import EDGES, Cloud, command_id

from ems.protocol import ControllerRef, DeviceRef, ParamSpec

A, B = EDGES
SET_CONTROLLER = "set_controller"
CONTROLLERS = [
    ControllerRef(
        id="self_consumption",
        type="self_consumption",
        priority=10,
        params=[
            ParamSpec(name="enabled", type="boolean"),
            ParamSpec(name="target_grid_w", type="number", unit="W"),
        ],
    ),
    ControllerRef(
        id="peak_shaving",
        type="peak_shaving",
        priority=20,
        params=[
            ParamSpec(name="peak_import_w", type="number", unit="W", min=0),
            ParamSpec(
                name="recharge_below_w", type="number", unit="W", min=0, below="peak_import_w"
            ),
        ],
    ),
]


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[Cloud]:
    made = Cloud()
    await made.dispatcher.record_inventory(A, made.hub.inventory[A], CONTROLLERS)
    yield made
    await made.aclose()


def sent(cloud: Cloud, edge_id: str = A) -> list[Any]:
    peer = cloud.peers.get(edge_id)
    return [] if peer is None else [s.frame for s in peer.received]


@pytest.mark.asyncio
async def test_a_good_one_reaches_the_edge_and_ends_executed(cloud: Cloud) -> None:
    await cloud.connect(A)
    cid = command_id(1)
    cmd = cloud.command(
        cid,
        value={"target_grid_w": -300, "enabled": True},
        device="self_consumption",
        action=SET_CONTROLLER,
    )
    ack = await cloud.submit(cmd)
    assert (ack.status, ack.reason) == ("received", None)
    [frame] = sent(cloud)
    assert (frame.device, frame.action, frame.value) == (
        "self_consumption",
        SET_CONTROLLER,
        {"target_grid_w": -300, "enabled": True},
    )
    await cloud.ack(A, cid, "delivered")
    await cloud.ack(A, cid, "executed")
    assert cloud.statuses(cid) == [("received", None), ("delivered", None), ("executed", None)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("device", "value", "role", "reason"),
    [
        ("load_following", {"target_grid_w": 0}, "operator", "unknown_controller"),
        ("bat1", {"target_grid_w": 0}, "operator", "unknown_controller"),  # a device
        ("self_consumption", {"deadband_w": 10}, "operator", "unknown_param"),
        ("peak_shaving", {"peak_import_w": -1}, "operator", "out_of_range"),
        (
            "peak_shaving",
            {"peak_import_w": 3000, "recharge_below_w": 3000},
            "operator",
            "invalid_params",
        ),
        ("self_consumption", {"enabled": 1}, "operator", "invalid_params"),
        ("self_consumption", {"target_grid_w": False}, "operator", "invalid_params"),
        ("self_consumption", {"target_grid_w": 0}, "viewer", "forbidden"),
    ],
)
async def test_a_bad_one_is_rejected_and_never_sent(
    cloud: Cloud, device: str, value: dict[str, Any], role: str, reason: str
) -> None:
    await cloud.connect(A)
    cid = command_id(2)
    ack = await cloud.submit(
        cloud.command(cid, value=value, device=device, action=SET_CONTROLLER), role=role
    )
    assert (ack.status, ack.reason) == ("rejected", reason)
    assert ack.detail
    assert sent(cloud) == []
    assert cloud.statuses(cid) == [("rejected", reason)]


@pytest.mark.asyncio
async def test_an_edge_that_advertised_no_controllers_has_none(cloud: Cloud) -> None:
    await cloud.connect(B)
    ack = await cloud.submit(
        cloud.command(
            command_id(3),
            B,
            {"target_grid_w": 0},
            device="self_consumption",
            action=SET_CONTROLLER,
        )
    )
    assert (ack.status, ack.reason) == ("rejected", "unknown_controller")


@pytest.mark.asyncio
async def test_unknown_edge(cloud: Cloud) -> None:
    ack = await cloud.submit(
        cloud.command(
            command_id(4),
            "edge-z",
            {"target_grid_w": 0},
            device="self_consumption",
            action=SET_CONTROLLER,
        )
    )
    assert (ack.status, ack.reason) == ("rejected", "unknown_edge")


@pytest.mark.asyncio
async def test_what_only_the_edge_can_judge_comes_back_rejected(cloud: Cloud) -> None:
    """recharge_below_w alone: the peak in force is known to the edge only."""
    await cloud.connect(A)
    cid = command_id(5)
    ack = await cloud.submit(
        cloud.command(
            cid, value={"recharge_below_w": 9000}, device="peak_shaving", action=SET_CONTROLLER
        )
    )
    assert ack.status == "received"
    await cloud.ack(A, cid, "delivered")
    await cloud.ack(A, cid, "rejected", "invalid_params")
    assert cloud.statuses(cid) == [
        ("received", None),
        ("delivered", None),
        ("rejected", "invalid_params"),
    ]


@pytest.mark.asyncio
async def test_queued_for_an_offline_edge_checked_against_the_shared_inventory(
    cloud: Cloud,
) -> None:
    """Another cloud process (or this one after a restart) knows the controllers too."""
    cloud.hub.inventory.clear()
    cloud.hub.controllers.clear()
    bad = await cloud.submit(
        cloud.command(command_id(6), value={"fly": 1}, device="peak_shaving", action=SET_CONTROLLER)
    )
    assert (bad.status, bad.reason) == ("rejected", "unknown_param")
    good = await cloud.submit(
        cloud.command(
            command_id(7),
            value={"peak_import_w": 4000},
            device="peak_shaving",
            action=SET_CONTROLLER,
        )
    )
    assert good.status == "queued"
    await cloud.connect(A)
    assert [f.value for f in sent(cloud)] == [{"peak_import_w": 4000}]


@pytest.mark.asyncio
async def test_a_newer_inventory_replaces_the_controllers(cloud: Cloud) -> None:
    await cloud.dispatcher.record_inventory(A, [DeviceRef(id="bat1", profile="battery")])
    await cloud.connect(A)
    ack = await cloud.submit(
        cloud.command(
            command_id(8),
            value={"peak_import_w": 4000},
            device="peak_shaving",
            action=SET_CONTROLLER,
        )
    )
    assert (ack.status, ack.reason) == ("rejected", "unknown_controller")
