"""The replicated lease table: grants, renewals, fencing tokens, switchover, fenced state."""

from __future__ import annotations

from ems.edge.ha.table import ConfigOutcome, LeaseTable


def test_first_node_gets_the_lease_with_token_1_and_the_other_is_refused() -> None:
    table = LeaseTable()
    assert table.acquire("a", 100.0, 1.0).holder == "a"
    grant = table.acquire("b", 100.5, 1.0)
    assert (grant.holder, grant.token, grant.expires_at_s) == ("a", 1, 101.0)


def test_renewal_keeps_the_token_and_extends_the_lease() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    grant = table.acquire("a", 100.8, 1.0)
    assert (grant.holder, grant.token, grant.expires_at_s) == ("a", 1, 101.8)
    assert table.acquire("b", 101.7, 1.0).holder == "a"


def test_a_lapsed_lease_goes_to_the_next_node_under_a_higher_token() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    grant = table.acquire("b", 101.0, 1.0)
    assert (grant.holder, grant.token) == ("b", 2)
    # The old holder, back after a stall, cannot renew what it no longer holds.
    assert table.acquire("a", 101.2, 1.0).holder == "b"


def test_old_holder_coming_back_after_lapse_gets_a_new_token_not_its_old_one() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    grant = table.acquire("a", 105.0, 1.0)  # lapsed, nobody else asked: a new term
    assert (grant.holder, grant.token) == ("a", 2)


def test_transfer_hands_the_lease_over_under_a_new_token() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    assert table.transfer("a", "b", 100.2, 1.0)
    assert table.acquire("a", 100.3, 1.0).holder == "b"
    grant = table.acquire("b", 100.4, 1.0)  # b's renewal
    assert (grant.holder, grant.token) == ("b", 2)
    assert not table.transfer("a", "b", 100.5, 1.0)  # not the holder
    # Handed to a node that never comes: it lapses and is free again.
    assert table.transfer("b", "c", 100.6, 1.0)
    assert table.acquire("a", 101.7, 1.0).holder == "a"


def test_state_from_an_older_token_is_refused() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    assert table.publish_state(1, {"manual_override": {"mode": "manual"}})
    table.acquire("b", 102.0, 1.0)
    assert table.publish_state(2, {"manual_override": {"mode": "auto"}})
    assert not table.publish_state(1, {"manual_override": {"mode": "stale"}})
    assert table.controller_state == {"manual_override": {"mode": "auto"}}


def test_executed_commands_are_kept_whoever_recorded_them() -> None:
    table = LeaseTable()
    table.record_executed(1, {"c1": 100.0})
    table.record_executed(2, {"c2": 101.0})
    assert table.executed == {"c1": 100.0, "c2": 101.0}


def test_only_the_current_token_may_take_a_command_and_only_once() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    assert table.record_taken(1, "c1", 100.1)
    assert not table.record_taken(1, "c1", 100.2)  # already taken
    table.acquire("b", 102.0, 1.0)
    assert not table.record_taken(1, "c2", 102.1)  # a stale leader starts nothing
    assert table.record_taken(2, "c2", 102.1)


def test_only_the_holder_commits_a_config_and_only_a_newer_version() -> None:
    table = LeaseTable()
    table.acquire("a", 100.0, 1.0)
    assert table.publish_config(1, 3, {"edge_id": "x"})
    assert not table.publish_config(1, 3, {"edge_id": "y"}), "not newer"
    assert not table.publish_config(1, 2, {"edge_id": "y"}), "older"
    table.acquire("b", 200.0, 1.0)  # a's lease lapsed: token 2 is b's
    assert not table.publish_config(1, 4, {"edge_id": "old leader"})
    assert (table.config_version, table.config) == (3, {"edge_id": "x"})


def test_a_nodes_config_outcome_is_replaced_only_by_a_newer_versions() -> None:
    table = LeaseTable()
    assert table.record_config_outcome("b", ConfigOutcome(2, "applied"))
    assert not table.record_config_outcome("b", ConfigOutcome(1, "rejected", "build_failed"))
    assert table.record_config_outcome("b", ConfigOutcome(3, "rejected", "device_not_ready"))
    assert table.config_outcomes["b"].reason == "device_not_ready"
