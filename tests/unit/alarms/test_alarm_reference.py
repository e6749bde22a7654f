"""The evaluator against a plain reference of DESIGN 14's rule semantics.

The evaluator skips samples it can prove change nothing (a per-channel quiet
band, the sample's time read only when needed); whatever it skips, it must
raise and clear exactly where a naive reading of the rule does, sample by
sample and frame by frame.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ems.alarms import AlarmBook, AlarmEvaluator, AlarmRule
from ems.clock import VirtualClock
from ems.protocol.frames import ChannelSample

EDGE = "site-1"
CHANNEL = "grid/ActivePower"
OTHER = "load/ActivePower"
T0_S = 1_767_225_600


def reference(rule: AlarmRule, samples: list[tuple[float, object]]) -> list[tuple[int, bool]]:
    """(sample index, condition on/off) wherever the condition changes, read naively."""
    changes: list[tuple[int, bool]] = []
    on = False
    since_s: float | None = None
    for i, (ts_s, value) in enumerate(samples):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            continue
        if on:
            back = (
                value < rule.threshold - rule.deadband
                if rule.operator == ">"
                else value > rule.threshold + rule.deadband
            )
            if back:
                on = False
                changes.append((i, False))
            continue
        over = value > rule.threshold if rule.operator == ">" else value < rule.threshold
        if not over:
            since_s = None
            continue
        since_s = ts_s if since_s is None else since_s
        if ts_s - since_s >= rule.for_s:
            on, since_s = True, None
            changes.append((i, True))
    return changes


values = st.one_of(
    st.integers(-5, 25).map(float),  # around the thresholds below, to cross them often
    st.integers(-5, 25),
    st.sampled_from([None, True, False, "x", float("nan")]),
)
rules = st.builds(
    AlarmRule,
    edge_id=st.just(EDGE),
    channel=st.just(CHANNEL),
    operator=st.sampled_from([">", "<"]),
    threshold=st.integers(5, 15),
    for_s=st.sampled_from([0, 1, 2.5, 5]),
    deadband=st.sampled_from([0, 1, 3]),
)


@given(rule=rules, steps=st.lists(st.tuples(st.sampled_from([0.5, 1, 2]), values), max_size=60))
def test_sample_by_sample_and_frame_by_frame_match_the_reference(
    rule: AlarmRule, steps: list[tuple[float, object]]
) -> None:
    samples, t = [], float(T0_S)
    for dt_s, value in steps:
        t += dt_s
        samples.append((t, value))
    expected = reference(rule, samples)

    one = AlarmEvaluator(AlarmBook(VirtualClock()))
    one.set_rule("r1", rule)
    got_one = [
        (i, e.to_state.value == "active_unacked")
        for i, (ts_s, v) in enumerate(samples)
        for e in one.evaluate(EDGE, CHANNEL, v, ts_s)
    ]

    frames = AlarmEvaluator(AlarmBook(VirtualClock()))
    frames.set_rule("r1", rule)
    frames.set_rule("r2", rule.model_copy(update={"channel": OTHER}))  # its events aside
    got_frames = []
    for i, (ts_s, v) in enumerate(samples):
        t_ = datetime.fromtimestamp(ts_s, UTC)
        # every other frame carries more channels than the edge has rules, so both
        # ways of walking a frame are taken
        frame = {CHANNEL: ChannelSample.model_construct(v=v, t=t_)}
        if i % 2:
            frame |= {
                OTHER: ChannelSample(v=1.0, t=t_),
                "pv_1/ActivePower": ChannelSample(v=3.0, t=t_),
                "battery_1/Soc": ChannelSample(v=50.0, t=t_),
            }
        got_frames += [
            (i, e.to_state.value == "active_unacked")
            for e in frames.evaluate_frame(EDGE, frame)
            if e.rule == "r1"
        ]

    assert got_one == expected
    assert got_frames == expected
