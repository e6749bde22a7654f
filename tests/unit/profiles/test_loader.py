"""Profiles are validated at load; a broken one names its file and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ems.errors import ProfileError
from ems.profiles import builtin_profiles, load_profile, load_profiles, parse_profile


def battery_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (Path(__file__).parents[3] / "src/ems/profiles/battery.json").read_text()
    )
    return doc


def test_builtin_profiles_load() -> None:
    profiles = builtin_profiles()
    assert set(profiles) == {"battery", "pv_inverter", "grid_meter", "load_meter"}
    action = profiles["battery"].actions["set_active_power"]
    assert action.output == "SetActivePower"
    assert action.request_address("battery_1") == "ui_requests/battery_1_power"
    assert action.ack_address("battery_1") == "ack/battery_1_power"
    assert action.dynamic_limits is not None
    assert action.dynamic_limits.max_age_s == 30
    assert action.dynamic_limits.min is not None and action.dynamic_limits.min.negate


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["channels"]["Soc"].pop("category"), "$.channels.Soc"),
        (
            lambda d: d["channels"]["Soc"].__setitem__("category", "sideways"),
            "$.channels.Soc.category",
        ),
        (lambda d: d["channels"]["Soc"].__setitem__("colour", "red"), "$.channels.Soc"),
        (lambda d: d["channels"].__setitem__("bad name", d["channels"]["Soc"]), "$.channels"),
        (
            lambda d: d["actions"]["set_active_power"].__setitem__("request", "Power!"),
            "$.actions.set_active_power.request",
        ),
        (
            lambda d: d["actions"]["set_active_power"]["value"].__setitem__("min", "low"),
            "$.actions.set_active_power.value.min",
        ),
        (lambda d: d.pop("actions"), "$"),
    ],
)
def test_schema_errors_name_the_file_and_field(mutate: Any, where: str) -> None:
    doc = battery_doc()
    mutate(doc)
    with pytest.raises(ProfileError) as err:
        parse_profile(doc, "profiles/battery.json")
    message = str(err.value)
    assert message.startswith(f"profiles/battery.json: {where}"), message


def test_output_must_be_an_output_channel() -> None:
    doc = battery_doc()
    doc["actions"]["set_active_power"]["output"] = "Soc"
    with pytest.raises(ProfileError, match=r"\$\.actions\.set_active_power\.output: 'Soc'"):
        parse_profile(doc, "battery.json")


def test_dynamic_bound_must_be_an_input_channel() -> None:
    doc = battery_doc()
    doc["actions"]["set_active_power"]["dynamic_limits"]["max"]["channel"] = "Nope"
    with pytest.raises(ProfileError, match=r"dynamic_limits\.max\.channel: 'Nope'"):
        parse_profile(doc, "battery.json")


def test_min_above_max_refused() -> None:
    doc = battery_doc()
    doc["actions"]["set_active_power"]["value"].update({"min": 10, "max": 5})
    with pytest.raises(ProfileError, match="min 10 is above max 5"):
        parse_profile(doc, "battery.json")


def test_files(tmp_path: Path) -> None:
    good = tmp_path / "battery.json"
    good.write_text(json.dumps(battery_doc()))
    assert load_profiles(tmp_path)["battery"].type == "battery"

    (tmp_path / "broken.json").write_text("{ not json")
    with pytest.raises(ProfileError, match=r"broken\.json: invalid JSON at line 1 column 3"):
        load_profiles(tmp_path)

    wrong = tmp_path / "other" / "pv_inverter.json"
    wrong.parent.mkdir()
    wrong.write_text(json.dumps(battery_doc()))
    with pytest.raises(
        ProfileError, match=r"pv_inverter\.json: \$\.type: 'battery' does not match"
    ):
        load_profile(wrong)

    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.json")
    with pytest.raises(ProfileError, match="no device profiles"):
        load_profiles(tmp_path / "other" / "..nothing")


def test_loaded_profile_is_not_shared_mutable() -> None:
    doc = battery_doc()
    before = copy.deepcopy(doc)
    parse_profile(doc, "battery.json")
    assert doc == before
