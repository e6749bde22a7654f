"""DroppedWatch: a rise of the edge's FramesDropped counter raises, quiet clears."""

from __future__ import annotations

import pytest

from ems.alarms.dropped import DroppedWatch


def test_first_frame_is_a_baseline_and_a_rise_raises() -> None:
    watch = DroppedWatch(600.0)
    assert watch.observe("e", 7, 0.0) is None  # drops before we watched: no alarm
    assert watch.observe("e", 7, 1.0) is None
    assert watch.observe("e", 9, 2.0) is True
    assert watch.observe("e", 12, 3.0) is True


def test_clears_only_after_the_counter_stayed_unchanged_long_enough() -> None:
    watch = DroppedWatch(600.0)
    watch.observe("e", 0, 0.0)
    assert watch.observe("e", 1, 10.0) is True
    assert watch.observe("e", 1, 609.9) is None
    assert watch.quiet("e", 609.9) is None
    assert watch.observe("e", 1, 610.0) is False
    assert watch.quiet("e", 700.0) is False


def test_an_edge_restart_resets_the_counter_without_raising() -> None:
    watch = DroppedWatch(60.0)
    watch.observe("e", 50, 0.0)
    assert watch.observe("e", 0, 1.0) is None  # the edge restarted: counter from 0
    assert watch.observe("e", 2, 2.0) is True  # a rise from the new baseline


def test_edges_are_independent_and_bad_values_are_ignored() -> None:
    watch = DroppedWatch(60.0)
    watch.observe("a", 0, 0.0)
    watch.observe("b", 0, 0.0)
    assert watch.observe("a", 1, 1.0) is True
    assert watch.observe("b", 0, 1.0) is None
    assert watch.observe("b", "lots", 2.0) is None
    assert watch.observe("b", True, 2.0) is None
    assert watch.observe("c", None, 2.0) is None
    assert watch.edges() == ["a", "b"]
    assert watch.quiet("unknown", 1e9) is None


def test_a_non_positive_clear_time_is_refused() -> None:
    with pytest.raises(ValueError, match="clear_after_s"):
        DroppedWatch(0.0)
