"""The holder's own view of its lease, on its monotonic clock."""

from __future__ import annotations

from ems.clock import VirtualClock
from ems.edge.ha.lease import LocalLease


def test_gate_opens_only_once_granted_and_enabled_and_closes_guard_before_expiry() -> None:
    clock = VirtualClock()
    lease = LocalLease(clock.monotonic, lease_s=1.0, write_guard_s=0.3)
    assert not lease.may_write()
    lease.granted(clock.monotonic(), token=1)
    assert lease.held() and not lease.may_control()  # not readied yet
    lease.enable()
    assert lease.may_control() and lease.may_write()
    clock.advance(0.69)
    assert lease.may_write()
    clock.advance(0.02)  # 0.71 s: inside the guard, the table still grants it till 1.0 s
    assert not lease.may_write()


def test_lease_counts_from_when_the_proposal_was_sent_not_when_it_came_back() -> None:
    clock = VirtualClock()
    lease = LocalLease(clock.monotonic, lease_s=1.0, write_guard_s=0.3)
    sent = clock.monotonic()
    clock.advance(0.5)  # a slow commit
    lease.granted(sent, token=1)
    lease.enable()
    clock.advance(0.21)
    assert not lease.may_write()


def test_a_new_token_must_be_readied_again_and_lost_closes_at_once() -> None:
    clock = VirtualClock()
    lease = LocalLease(clock.monotonic, lease_s=1.0, write_guard_s=0.3)
    lease.granted(clock.monotonic(), token=1)
    lease.enable()
    lease.granted(clock.monotonic(), token=3)
    assert not lease.may_control() and lease.token == 3
    lease.enable()
    lease.lost()
    assert not lease.may_write() and not lease.held()
