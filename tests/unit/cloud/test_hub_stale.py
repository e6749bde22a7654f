"""Heartbeats on one process: a connected edge silent too long is stale (injected clock)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.cloud.peer import Peer
from ems.protocol import encode


@dataclass
class Clock:
    now_s: float = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now_s


@dataclass(eq=False)
class Recorder:
    frames: list[dict[str, Any]] = field(default_factory=list)

    def send(self, frame: Any, droppable: bool = False) -> bool:
        self.frames.append(json.loads(encode(frame)))
        return True

    def statuses(self) -> list[tuple[bool, bool]]:
        return [(f["online"], f["stale"]) for f in self.frames if f["type"] == "edge_status"]


def setup() -> tuple[Hub, Clock, Recorder, EdgeSession]:
    clock = Clock()
    hub = Hub(stale_after_s=10.0, wall_clock=clock)
    ui = Recorder()
    session = UiSession("vic", "viewer", cast(Peer, ui), token_exp_s=1e12)
    hub.attach_ui(session)
    hub.subscribe(session, "site-1")
    edge = EdgeSession("site-1", cast(Peer, Recorder()))
    hub.attach_edge(edge)
    return hub, clock, ui, edge


def test_online_then_stale_then_online_again_then_offline() -> None:
    hub, clock, ui, edge = setup()
    assert ui.statuses() == [(True, False)]
    assert hub.take_stale_changes() == {}

    clock.now_s += 10.0  # exactly the limit: not yet
    assert hub.check_stale() == []
    clock.now_s += 0.5
    assert hub.check_stale() == ["site-1"]
    assert hub.check_stale() == []  # told once, not every check
    assert hub.stale_changed.is_set()
    assert hub.take_stale_changes() == {"site-1": True}  # for the cluster, once
    assert not hub.stale_changed.is_set()
    assert hub.take_stale_changes() == {}
    assert hub.status("site-1").stale is True
    assert ui.statuses()[-1] == (True, True)

    hub.seen("site-1")  # a frame arrives
    assert ui.statuses()[-1] == (True, False)
    assert hub.take_stale_changes() == {"site-1": False}
    assert hub.status("site-1").stale is False

    clock.now_s += 11.0
    hub.check_stale()
    assert hub.detach_edge(edge)
    # Offline is not stale: the flag goes with the connection.
    assert ui.statuses() == [
        (True, False),
        (True, True),
        (True, False),
        (True, True),
        (False, False),
    ]
    # Stale again, then offline: the cluster hears the change it has not taken yet.
    assert hub.take_stale_changes() == {"site-1": True}
    assert hub.stale == set()


def test_frames_keep_an_edge_fresh_and_offline_edges_are_never_stale() -> None:
    hub, clock, _ui, edge = setup()
    for _ in range(30):
        clock.now_s += 1.0
        hub.seen("site-1")
        assert hub.check_stale() == []
    hub.detach_edge(edge)
    clock.now_s += 60.0
    assert hub.check_stale() == []
    assert hub.take_stale_changes() == {}
    assert hub.status("site-1").online is False
    assert hub.status("site-1").stale is False


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stale_after_s"):
        Hub(stale_after_s=0)
