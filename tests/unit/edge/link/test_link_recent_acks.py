"""The final acks of the last seconds outlive the edge process (a SIGKILL included).

Each "process" is a new :class:`AckOutbox` and :class:`RecentAcks` over the same
file; the old ones are dropped without being closed, as a killed process would.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ems.clock import VirtualClock
from ems.edge.link import AckOutbox
from ems.edge.link._wire import utc_datetime
from ems.edge.link.recent_acks import COMPACT_MIN_LINES, RecentAcks
from ems.protocol import EdgeAck, encode

WINDOW_S = 10.0
_IDS = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in ("old", "d", "new", "waiting")}
_NAMES = {v: k for k, v in _IDS.items()}


def _ack(name: str, status: str, reason: str | None = None) -> EdgeAck:
    return EdgeAck.model_validate(
        {
            "type": "ack",
            "command_id": _IDS.get(name, name),
            "status": status,
            "reason": reason,
            "at": utc_datetime(0.0),
        }
    )


def _process(path: Path, clock: VirtualClock) -> AckOutbox:
    journal = RecentAcks(path, clock, WINDOW_S)
    return AckOutbox(lambda: None, now=clock.monotonic, resend_window_s=WINDOW_S, journal=journal)


def _drain(outbox: AckOutbox) -> list[tuple[str, str]]:
    out = []
    while (ack := outbox.peek()) is not None:
        out.append((_NAMES.get(ack.command_id, ack.command_id), ack.status))
        outbox.sent()
    return out


def test_final_acks_sent_or_queued_before_a_kill_are_sent_by_the_next_process(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    path = tmp_path / "recent-acks.jsonl"
    first = _process(path, clock)
    first.put(_ack("old", "executed"))
    first.put(_ack("d", "delivered"))
    assert _drain(first) == [("old", "executed"), ("d", "delivered")]  # at t=0
    clock.advance(4.0)
    first.put(_ack("new", "failed", "revalidation_failed"))
    assert _drain(first) == [("new", "failed")]  # at t=4
    first.put(_ack("waiting", "executed"))  # queued at t=4, never sent: then the kill
    del first

    clock.advance(7.0)  # t=11: the restarted edge connects; "old" is past the window
    second = _process(path, clock)
    assert second.resend_recent() == 2
    assert _drain(second) == [("new", "failed"), ("waiting", "executed")]
    del second

    clock.advance(2.0)  # killed again right after sending them: they go out once more
    third = _process(path, clock)
    assert third.resend_recent() == 2
    assert [a.reason for a in [third.peek()]] == ["revalidation_failed"]
    clock.advance(WINDOW_S)
    fourth = _process(path, clock)
    assert fourth.resend_recent() == 0  # entries expire as in memory


def test_the_journal_stays_bounded_to_about_three_windows(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "recent-acks.jsonl"
    outbox = _process(path, clock)
    longest = 0
    for n in range(3000):  # ten final acks a second for five minutes
        outbox.put(_ack(str(uuid.UUID(int=n)), "executed"))
        outbox.sent()
        clock.advance(0.1)
        longest = max(longest, len(path.read_text().splitlines()))
    in_window = 2 * (int(WINDOW_S / 0.1) + 1)  # queued and sent: two lines each
    assert longest <= in_window + max(COMPACT_MIN_LINES, 2 * in_window)
    restarted = _process(path, clock)
    assert restarted.resend_recent() == WINDOW_S / 0.1  # the last 10 s, once each


def test_an_unreadable_journal_is_skipped_with_a_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    path = tmp_path / "recent-acks.jsonl"
    good = f'{{"t":{clock.time()!r},"ack":{encode(_ack("new", "executed"))}}}'
    path.write_text(
        "not json\n"
        '{"t": 1, "ack": {"type": "ack"}}\n'  # not an ack
        f'{{"t":"NaN","ack":{encode(_ack("old", "executed"))}}}\n'
        f"{good}\n"
        f"{good[:40]}"  # torn by a power cut
    )
    journal = RecentAcks(path, clock, WINDOW_S)
    assert journal.lines_skipped == 4
    assert [(age_s, _NAMES[a.command_id]) for age_s, a in journal.load()] == [(0.0, "new")]
    assert "unreadable line skipped" in caplog.text
    assert path.read_text() == f"{good}\n"  # rewritten with what is still of use


def test_a_journal_that_cannot_be_written_leaves_the_outbox_working(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "recent-acks.jsonl"
    path.mkdir()  # a directory where the file should be
    journal = RecentAcks(path, clock, WINDOW_S)
    outbox = AckOutbox(lambda: None, now=clock.monotonic, journal=journal)
    outbox.put(_ack("new", "executed"))
    assert _drain(outbox) == [("new", "executed")]
    assert outbox.resend_recent() == 1  # in memory, as before
    assert journal.write_errors >= 1
