"""The set_controller contract on the wire: an object value for that action only, and an
inventory that may (or, from an older edge, may not) list controllers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ems.protocol import (
    CLOUD_TO_EDGE,
    EDGE_TO_CLOUD,
    UI_TO_CLOUD,
    EdgeInventory,
    FrameError,
    UiCommand,
)

CID = "123e4567-e89b-42d3-a456-426614174000"


def command(action: str, value: Any) -> str:
    return json.dumps(
        {
            "type": "command",
            "command_id": CID,
            "edge_id": "site-1",
            "device": "self_consumption",
            "action": action,
            "value": value,
            "issued_at": "2026-01-01T00:00:00Z",
        }
    )


def test_set_controller_carries_an_object_of_parameters() -> None:
    frame = UI_TO_CLOUD.decode(command("set_controller", {"target_grid_w": -200, "enabled": True}))
    assert isinstance(frame, UiCommand)
    assert frame.value == {"target_grid_w": -200, "enabled": True}


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("set_controller", 5),  # one value: no parameter named
        ("set_controller", {}),  # nothing to change
        ("set_controller", {"target_grid_w": "5"}),  # no coercion
        ("set_controller", {"Target": 5}),  # not a parameter name
        ("set_controller", {"a": {"b": 1}}),
        ("set_active_power", {"w": 1}),  # objects belong to set_controller only
    ],
)
def test_malformed_set_controller_is_refused_by_the_schema(action: str, value: Any) -> None:
    refused = UI_TO_CLOUD.decode(command(action, value))
    assert isinstance(refused, FrameError)
    assert refused.code == "invalid_payload"
    assert refused.command_id == CID


def test_the_edge_gets_the_object_too() -> None:
    frame = json.loads(command("set_controller", {"peak_import_w": 4000}))
    del frame["edge_id"]
    frame |= {"deadline": "2026-01-01T00:00:05Z", "user": "alice"}
    decoded = CLOUD_TO_EDGE.decode(json.dumps(frame))
    assert not isinstance(decoded, FrameError)


def test_inventory_lists_controllers_and_older_edges_may_omit_them() -> None:
    old = EDGE_TO_CLOUD.decode(json.dumps({"type": "inventory", "devices": []}))
    assert isinstance(old, EdgeInventory) and old.controllers == []
    new = EDGE_TO_CLOUD.decode(
        json.dumps(
            {
                "type": "inventory",
                "devices": [{"id": "battery_1", "profile": "battery"}],
                "controllers": [
                    {
                        "id": "peak_shaving",
                        "type": "peak_shaving",
                        "priority": 20,
                        "params": [
                            {"name": "peak_import_w", "type": "number", "unit": "W", "min": 0},
                            {
                                "name": "recharge_below_w",
                                "type": "number",
                                "unit": "W",
                                "min": 0,
                                "below": "peak_import_w",
                            },
                        ],
                    }
                ],
            }
        )
    )
    assert isinstance(new, EdgeInventory)
    assert new.controllers[0].params[1].below == "peak_import_w"
