"""Rate limiting notifications: a flapping alarm does not flood inboxes, nor is it lost."""

from __future__ import annotations

from ems.alarms import (
    AlarmBook,
    AlarmEvaluator,
    AlarmRule,
    AlarmState,
    NotificationLimiter,
)
from ems.clock import VirtualClock
from ems.ratelimit import Rate

EDGE = "site-1"
GRID = "grid/ActivePower"


def test_a_flapping_alarm_sends_its_burst_then_one_per_interval_with_the_count_held_back() -> None:
    clock = VirtualClock()
    book = AlarmBook(clock)
    evaluator = AlarmEvaluator(book)
    evaluator.set_rule(
        "r1", AlarmRule(edge_id=EDGE, channel=GRID, operator=">", threshold=100, deadband=0)
    )
    limiter = NotificationLimiter(Rate(per_s=1 / 600, burst=3))
    sent: list[tuple[float, int]] = []
    raised = 0
    # Flapping: over and under the threshold every other second for 20 minutes.
    for i in range(1200):
        clock.advance(1)
        for event in evaluator.evaluate(EDGE, GRID, 200 if i % 2 == 0 else 0, clock.time()):
            if event.to_state is not AlarmState.ACTIVE_UNACKED:
                continue  # mail only what needs someone to act
            raised += 1
            decision = limiter.decide(event.alarm_id, clock.time())
            if decision.send:
                sent.append((clock.time() - 1_767_225_600, decision.held_back))
    assert raised == 600
    # 3 at once, then one when a token is back (10 min), telling how many were held back
    assert sent == [(1, 0), (3, 0), (5, 0), (601, 297)]
    # it stopped flapping; the rest is told once its bucket has room again
    assert limiter.digests_due(clock.time()) == {}
    clock.advance(1)
    assert limiter.digests_due(clock.time()) == {f"{EDGE}.rule.r1": 299}


def test_held_back_notifications_go_out_as_a_digest_once_there_is_room() -> None:
    limiter = NotificationLimiter(Rate(per_s=1 / 60, burst=1))
    t = 1000.0
    assert limiter.decide("a", t).send
    refused = limiter.decide("a", t + 1)
    assert (refused.send, refused.retry_after_s) == (False, 59)
    limiter.decide("a", t + 2)
    assert limiter.decide("b", t + 2).send  # another alarm has its own bucket
    assert limiter.digests_due(t + 30) == {}
    assert limiter.digests_due(t + 60) == {"a": 2}
    assert limiter.digests_due(t + 600) == {}  # said once
    again = limiter.decide("a", t + 601)
    assert (again.send, again.held_back) == (True, 0)
