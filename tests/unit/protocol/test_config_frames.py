"""The config sync frames (DESIGN 16): what they accept and what they refuse, and why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ems.protocol import CLOUD_TO_EDGE, EDGE_TO_CLOUD, EdgeConfigAck, EdgeConfigPush, FrameError


def test_a_push_and_its_acks_decode() -> None:
    push = CLOUD_TO_EDGE.decode(json.dumps({"type": "config", "version": 2, "config": {"a": 1}}))
    assert push == EdgeConfigPush(version=2, config={"a": 1})
    ack = EDGE_TO_CLOUD.decode(
        json.dumps(
            {
                "type": "config_ack",
                "version": 2,
                "status": "rejected",
                "reason": "build_failed",
                "detail": "controllers[0].params.battery: 'battery_9' is not a battery",
            }
        )
    )
    assert isinstance(ack, EdgeConfigAck) and ack.reason == "build_failed"
    inventory = EDGE_TO_CLOUD.decode(
        json.dumps({"type": "inventory", "devices": [], "config_version": 2})
    )
    assert getattr(inventory, "config_version", None) == 2


@pytest.mark.parametrize(
    ("decoder", "frame", "where"),
    [
        (CLOUD_TO_EDGE, {"type": "config", "version": 0, "config": {}}, "version"),
        (CLOUD_TO_EDGE, {"type": "config", "version": 1, "config": []}, "config"),
        (CLOUD_TO_EDGE, {"type": "config", "version": "1", "config": {}}, "version"),
        (CLOUD_TO_EDGE, {"type": "config", "version": 1, "config": {}, "x": 1}, "x"),
        (EDGE_TO_CLOUD, {"type": "config_ack", "version": 1, "status": "maybe"}, "status"),
        (
            EDGE_TO_CLOUD,
            {"type": "config_ack", "version": 1, "status": "rejected", "reason": "No Way"},
            "reason",
        ),
        (EDGE_TO_CLOUD, {"type": "inventory", "devices": [], "config_version": 0}, "version"),
    ],
)
def test_bad_frames_are_refused_naming_the_field(decoder: Any, frame: Any, where: str) -> None:
    refused = decoder.decode(json.dumps(frame))
    assert isinstance(refused, FrameError)
    assert refused.code == "invalid_payload"
    assert where in refused.detail
