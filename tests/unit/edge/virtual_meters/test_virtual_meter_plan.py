"""Virtual meter definitions: checked at start, every mistake refused naming its field."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ems.edge.config import demo_config_path, parse_edge_config
from ems.edge.virtual_meters import plan_meters, site_channels
from ems.errors import ConfigError, VirtualMeterError
from ems.profiles import builtin_profiles

# The demo site: battery_1, pv_1, grid, load; controllers self_consumption, manual_override.


def site(*meters: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(demo_config_path().read_text())
    doc["virtual_meters"] = list(meters)
    return doc


def refused(*meters: dict[str, Any]) -> VirtualMeterError:
    with pytest.raises(VirtualMeterError) as info:
        parse_edge_config(site(*meters), "site.yaml")
    return info.value


def test_a_valid_chain_is_ordered_so_each_meter_follows_what_it_reads() -> None:
    config = parse_edge_config(
        site(
            {"id": "net_load", "sum": ["load/ActivePower"], "minus": ["pv_total/Value"]},
            {"id": "pv_total", "unit": "W", "sum": ["pv_1/ActivePower"]},
            {"id": "grid_kw", "unit": "kW", "sum": ["_sum/GridActivePower"], "factor": 0.001},
        )
    )
    profiles = builtin_profiles()
    plans = plan_meters(
        config.virtual_meters, site_channels({d.id: profiles[d.profile] for d in config.devices})
    )
    order = [p.id for p in plans]
    assert order.index("pv_total") < order.index("net_load")
    units = {p.id: p.unit for p in plans}
    assert units == {"pv_total": "W", "net_load": "W", "grid_kw": "kW"}


@pytest.mark.parametrize(
    ("meters", "reason", "field", "words"),
    [
        (
            [{"id": "x", "sum": ["pv_9/ActivePower"]}],
            "unknown_device",
            "virtual_meters[0].sum[0]",
            "unknown device 'pv_9'",
        ),
        (
            [{"id": "x", "sum": ["pv_1/ActivePower"], "minus": ["pv_1/Power"]}],
            "unknown_channel",
            "virtual_meters[0].minus[0]",
            "'pv_1' has no channel 'Power'",
        ),
        (
            [{"id": "a", "sum": ["pv_1/ActivePower"]}, {"id": "b", "sum": ["a/Total"]}],
            "unknown_channel",
            "virtual_meters[1].sum[0]",
            "only the channel 'Value'",
        ),
        (
            [{"id": "x", "sum": ["pv_1-ActivePower"]}],
            "invalid_address",
            "virtual_meters[0].sum[0]",
            "malformed channel address",
        ),
        (
            [{"id": "x", "sum": ["battery_1/SetActivePower"]}],
            "not_an_input",
            "virtual_meters[0].sum[0]",
            "is an output channel",
        ),
        (
            [{"id": "x", "sum": ["pv_1/ActivePower"]}, {"id": "x", "sum": ["load/ActivePower"]}],
            "duplicate_id",
            "virtual_meters[1].id",
            "duplicate id 'x'",
        ),
        (
            [{"id": "grid", "sum": ["pv_1/ActivePower"]}],
            "duplicate_id",
            "virtual_meters[0].id",
            "already a device id",
        ),
        (
            [{"id": "manual_override", "sum": ["pv_1/ActivePower"]}],
            "duplicate_id",
            "virtual_meters[0].id",
            "already a controller id",
        ),
        (
            [{"id": "x", "sum": ["pv_1/ActivePower", "battery_1/Soc"]}],
            "unit_mismatch",
            "virtual_meters[0].sum[1]",
            "'battery_1/Soc' is in '%' but virtual_meters[0].sum[0] is in 'W'",
        ),
        (
            [{"id": "x", "unit": "kW", "sum": ["pv_1/ActivePower"]}],
            "unit_mismatch",
            "virtual_meters[0].unit",
            "no factor converts",
        ),
        (
            # A unit checked through another meter: y is in kW, grid in W.
            [
                {"id": "y", "unit": "kW", "sum": ["pv_1/ActivePower"], "factor": 0.001},
                {"id": "z", "sum": ["grid/ActivePower", "y/Value"]},
            ],
            "unit_mismatch",
            "virtual_meters[1].sum[1]",
            "'y/Value' is in 'kW'",
        ),
        (
            [{"id": "a", "sum": ["a/Value"]}],
            "cycle",
            "virtual_meters[0].sum[0]",
            "loop: a/Value -> a/Value",
        ),
        (
            [
                {"id": "a", "sum": ["pv_1/ActivePower", "b/Value"]},
                {"id": "b", "sum": ["load/ActivePower"], "minus": ["c/Value"]},
                {"id": "c", "sum": ["a/Value"]},
            ],
            "cycle",
            "virtual_meters[2].sum[0]",
            "loop: a/Value -> b/Value -> c/Value -> a/Value",
        ),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field(
    meters: list[dict[str, Any]], reason: str, field: str, words: str
) -> None:
    error = refused(*meters)
    assert error.reason == reason
    assert error.field == field
    assert words in error.detail
    assert str(error).startswith(f"site.yaml: {field}: ")


@pytest.mark.parametrize(
    ("meter", "message"),
    [
        ({"id": "x"}, "virtual_meters[0]: Value error, give at least one channel"),
        ({"id": "_x", "sum": ["pv_1/ActivePower"]}, "virtual_meters[0].id: Value error"),
        ({"id": "Net", "sum": ["pv_1/ActivePower"]}, "virtual_meters[0].id: Value error"),
        ({"id": "x", "sum": ["pv_1/ActivePower"], "scale": 2}, "virtual_meters[0].scale"),
        ({"id": "x", "sum": ["pv_1/ActivePower"], "factor": "inf"}, "virtual_meters[0].factor"),
    ],
)
def test_a_malformed_entry_is_refused_by_the_schema(meter: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_edge_config(site(meter), "site.yaml")
    assert message in str(info.value)
