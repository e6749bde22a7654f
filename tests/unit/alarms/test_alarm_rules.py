"""Alarm rules: DESIGN 14's fields, refused with the offending field named."""

from __future__ import annotations

from typing import Any

import pytest

from ems.alarms import AlarmRule, InvalidRule, Severity, parse_rule
from ems.alarms.rules import check_rule_id


def rule_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "edge_id": "site-1",
        "channel": "battery_1/Soc",
        "operator": "<",
        "threshold": 10,
        "for_s": 30,
        "deadband": 2.5,
        "severity": "high",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def test_a_valid_rule_is_read_with_design_14_fields() -> None:
    rule = parse_rule(rule_json())
    assert rule == AlarmRule(
        edge_id="site-1",
        channel="battery_1/Soc",
        operator="<",
        threshold=10,
        for_s=30,
        deadband=2.5,
        severity=Severity.HIGH,
    )


def test_for_s_deadband_and_severity_have_defaults() -> None:
    rule = parse_rule(rule_json(for_s=..., deadband=..., severity=...))
    assert (rule.for_s, rule.deadband, rule.severity) == (0, 0, Severity.MEDIUM)


def test_a_site_total_is_a_valid_channel() -> None:
    assert parse_rule(rule_json(channel="_sum/GridActivePower")).channel == "_sum/GridActivePower"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"threshold": ...}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": float("inf")}, "threshold"),
        ({"threshold": "12"}, "threshold"),  # a string is a mistake, not a number
        ({"threshold": True}, "threshold"),
        ({"for_s": -1}, "for_s"),
        ({"for_s": 86_401}, "for_s"),
        ({"deadband": -0.5}, "deadband"),
        ({"deadband": float("nan")}, "deadband"),
        ({"operator": ">="}, "operator"),
        ({"severity": "urgent"}, "severity"),
        ({"channel": "battery_1/soc"}, "channel"),
        ({"channel": "ui_requests/battery_1_power"}, "channel"),
        ({"channel": ...}, "channel"),
        ({"edge_id": "Site 1"}, "edge_id"),
        ({"unit": "W"}, "unit"),  # unknown keys are refused, not ignored
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rule(rule_json(**overrides))
    assert caught.value.reason == "invalid_rule"
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_rule_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rule(["battery_1/Soc", "<", 10])
    assert caught.value.reason == "invalid_rule"


def test_a_rule_on_a_channel_the_edge_does_not_report_is_refused() -> None:
    known = {"battery_1/Soc", "grid/ActivePower"}
    assert parse_rule(rule_json(), known_channels=known).channel == "battery_1/Soc"
    with pytest.raises(InvalidRule) as caught:
        parse_rule(rule_json(channel="battery_2/Soc"), known_channels=known)
    assert (caught.value.reason, caught.value.field) == ("unknown_channel", "channel")
    assert "battery_2/Soc" in caught.value.detail


@pytest.mark.parametrize("rule_id", ["", "a/b", "x" * 65, "rule 1", "r.1"])
def test_a_bad_rule_id_is_refused(rule_id: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        check_rule_id(rule_id)
    assert (caught.value.reason, caught.value.field) == ("invalid_rule", "rule_id")


@pytest.mark.parametrize(
    ("operator", "value", "over", "back"),
    [
        (">", 101, True, False),
        (">", 100, False, False),  # at the threshold: neither raises nor clears
        (">", 95, False, False),  # inside the deadband
        (">", 94.9, False, True),
        ("<", 99, True, False),
        ("<", 104, False, False),
        ("<", 105.1, False, True),
    ],
)
def test_condition_and_return_to_normal_with_the_deadband(
    operator: str, value: float, over: bool, back: bool
) -> None:
    rule = parse_rule(rule_json(operator=operator, threshold=100, deadband=5))
    assert (rule.over(value), rule.back_to_normal(value)) == (over, back)
