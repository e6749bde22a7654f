"""Which edges the upkeep calls offline: gone for longer than the grace, not a moment."""

from __future__ import annotations

from datetime import UTC, datetime

from ems.cloud.alarms.wiring import presence
from ems.protocol import EdgeStatus

NOW_S = 1_767_225_600.0


def status(online: bool, seen_ago_s: float | None, stale: bool = False) -> EdgeStatus:
    seen = None if seen_ago_s is None else datetime.fromtimestamp(NOW_S - seen_ago_s, UTC)
    return EdgeStatus(edge_id="e-1", online=online, last_seen=seen, stale=stale)


def test_offline_only_after_the_grace() -> None:
    statuses = {
        "moving": status(False, 5.0),
        "gone": status(False, 61.0),
        "never": status(False, None),
        "here": status(True, 0.5),
        "silent": status(True, 30.0, stale=True),
    }
    assert presence(statuses, NOW_S, 60.0) == {
        "moving": (True, False),
        "gone": (False, False),
        "never": (False, False),
        "here": (True, False),
        "silent": (True, True),
    }
