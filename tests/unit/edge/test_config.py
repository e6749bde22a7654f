"""The edge YAML: the demo site loads; mistakes are refused naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ems.edge.config import demo_config_path, load_edge_config, parse_edge_config
from ems.errors import ConfigError


def demo() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(demo_config_path().read_text())
    return doc


def test_demo_site_is_the_default() -> None:
    config = load_edge_config(None)
    assert config.edge_id == "site-1"
    assert [d.id for d in config.devices] == ["battery_1", "pv_1", "grid", "load"]
    assert [c.type for c in config.controllers] == ["self_consumption", "manual_override"]
    assert config.cycle.period_s == 1.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.__setitem__("colour", "red"), "colour: unknown key"),
        (lambda d: d.pop("site"), "site: Field required"),
        (
            lambda d: d["cycle"].__setitem__("period_s", "fast"),
            "cycle.period_s: Input should be a valid number",
        ),
        (
            lambda d: d["cycle"].__setitem__("period_s", 0),
            "cycle.period_s: Input should be greater than 0",
        ),
        (
            lambda d: d["site"].__setitem__("timezone", "Mars/Olympus"),
            "site.timezone: Value error, unknown IANA",
        ),
        (lambda d: d.__setitem__("edge_id", "Site 1"), "edge_id: Value error, must be lowercase"),
        (
            lambda d: d["devices"][0].__setitem__("id", "Battery-1"),
            "devices[0].id: Value error, malformed device id",
        ),
        (
            lambda d: d["devices"][1].__setitem__("profile", "windmill"),
            "devices[1].profile: unknown profile 'windmill'",
        ),
        (
            lambda d: d["devices"][0].__setitem__("simulator", "flux"),
            "devices[0].simulator: unknown simulator type 'flux'",
        ),
        (
            lambda d: d["devices"][0]["params"].__setitem__("capacity_wh", -5),
            "devices[0].params.capacity_wh",
        ),
        (
            lambda d: d["devices"][0]["params"].__setitem__("colour", 1),
            "devices[0].params.colour: unknown key",
        ),
        (lambda d: d["devices"].append(dict(d["devices"][0])), "duplicate id 'battery_1'"),
        (
            lambda d: d["controllers"][0].__setitem__("id", "grid"),
            "controllers: id 'grid' is already a device id",
        ),
        (
            lambda d: d["controllers"][0].__setitem__("type", "magic"),
            "controllers[0].type: unknown controller type 'magic'",
        ),
        (lambda d: d["controllers"][0].pop("priority"), "controllers[0].priority: Field required"),
        (
            lambda d: d["controllers"][1].__setitem__("params", {"devices": "all"}),
            "controllers[1].params.devices",
        ),
        (lambda d: d.__setitem__("devices", []), "devices: List should have at least 1 item"),
    ],
)
def test_bad_config_names_the_field(mutate: Any, message: str) -> None:
    doc = demo()
    mutate(doc)
    with pytest.raises(ConfigError) as err:
        parse_edge_config(doc, "site.yaml")
    assert str(err.value).startswith("site.yaml: "), str(err.value)
    assert message in str(err.value)


def test_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_edge_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("edge_id: [unclosed")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_edge_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_edge_config(scalar)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(demo()))
    assert load_edge_config(good).edge_id == "site-1"


def test_buffer_and_metrics_defaults_and_overrides() -> None:
    config = load_edge_config(None)
    assert config.telemetry.buffer_max_mb == 256
    assert config.telemetry.buffer_max_age_s == 86_400
    assert (config.metrics.enabled, config.metrics.host) == (False, "127.0.0.1")
    doc = demo()
    doc["telemetry"] = {"buffer_max_mb": 16, "buffer_max_age_s": 3600, "inflight_frames": 8}
    doc["metrics"] = {"enabled": True, "port": 9200}
    config = parse_edge_config(doc)
    assert (config.telemetry.buffer_max_mb, config.telemetry.inflight_frames) == (16, 8)
    assert config.telemetry.backfill_frames_per_s == 50  # untouched keys keep their default
    assert (config.metrics.enabled, config.metrics.port) == (True, 9200)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("telemetry", {"buffer_max_mb": 0}, "telemetry.buffer_max_mb: Input should be greater"),
        ("telemetry", {"buffer_max_age_s": -1}, "telemetry.buffer_max_age_s: Input should be"),
        ("telemetry", {"inflight_frames": 0}, "telemetry.inflight_frames: Input should be"),
        ("telemetry", {"queue": 5}, "telemetry.queue: unknown key"),
        ("metrics", {"port": 70000}, "metrics.port: Input should be less than"),
    ],
)
def test_bad_buffer_and_metrics_settings_are_refused(
    section: str, values: dict[str, Any], message: str
) -> None:
    doc = demo()
    doc[section] = values
    with pytest.raises(ConfigError, match=message):
        parse_edge_config(doc)
