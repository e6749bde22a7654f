"""The current-status rule and the merge of the durable and hot copies."""

from __future__ import annotations

import pytest

from ems.cloud.records import CommandRecord, StatusEvent, merge_records, supersedes
from support.conformance.records import T0, info


def ev(status: str, at: float, reason: str | None = None) -> StatusEvent:
    return StatusEvent(status, reason, None, at)


@pytest.mark.parametrize(
    ("current", "new", "replaces"),
    [
        (ev("received", T0), ev("delivered", T0 + 1), True),
        (ev("delivered", T0 + 1), ev("received", T0), False),  # older progress
        (ev("received", T0), ev("received", T0), True),  # same time: the later report
        (ev("delivered", T0 + 1), ev("failed", T0, "edge_timeout"), True),  # final wins
        (ev("executed", T0), ev("delivered", T0 + 9), False),  # final is final
        (ev("failed", T0, "edge_timeout"), ev("executed", T0 + 9), False),  # one final only
    ],
)
def test_supersedes(current: StatusEvent, new: StatusEvent, replaces: bool) -> None:
    assert supersedes(current, new) is replaces


def test_merge_appends_what_only_the_hot_copy_has() -> None:
    c = info()
    durable = CommandRecord.from_events(c, [ev("received", T0)])
    hot = CommandRecord.from_events(c, [ev("received", T0), ev("delivered", T0 + 1)])
    merged = merge_records(durable, hot)
    assert merged is not None
    assert [e.status for e in merged.history] == ["received", "delivered"]
    assert (merged.status, merged.terminal) == ("delivered", False)


def test_merge_keeps_the_durable_history_when_redis_lost_some() -> None:
    """A Redis restart without persistence: the hot copy restarts mid-life."""
    c = info()
    durable = CommandRecord.from_events(c, [ev("received", T0), ev("delivered", T0 + 1)])
    hot = CommandRecord.from_events(c, [ev("executed", T0 + 2)])
    merged = merge_records(durable, hot)
    assert merged is not None
    assert [e.status for e in merged.history] == ["received", "delivered", "executed"]
    assert (merged.status, merged.terminal, merged.updated_at) == ("executed", True, T0 + 2)


def test_merge_with_one_copy_missing() -> None:
    record = CommandRecord.from_events(info(), [ev("queued", T0)])
    assert merge_records(record, None) is record
    assert merge_records(None, record) is record
    assert merge_records(None, None) is None


def test_api_shape() -> None:
    c = info(value=-2500)
    record = CommandRecord.from_events(c, [ev("received", T0), ev("failed", T0 + 5.5, "x_y")])
    out = record.to_api()
    assert out["history"] == [
        {"status": "received", "reason": None, "detail": None, "at": "2026-01-01T00:00:00.000Z"},
        {"status": "failed", "reason": "x_y", "detail": None, "at": "2026-01-01T00:00:05.500Z"},
    ]
    assert (out["status"], out["reason"], out["terminal"]) == ("failed", "x_y", True)
    assert out["issued_at"] == "2025-12-31T23:59:59.750Z"
    assert (out["user"], out["value"], out["ttl_s"]) == ("olga", -2500, 300)
    assert "history" not in record.to_api(with_history=False)
