"""The tariff block: the three price sources, and windows that must cover the day exactly once."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ems.edge.config import demo_config_path, parse_edge_config
from ems.errors import ConfigError
from ems.tariff import TariffConfig
from ems.tariff.config import day_segments

DESIGN_EXAMPLE = """
tariff:
  currency: EUR
  import: {windows: [{from: "00:00", to: "07:00", price_per_kwh: 0.22}, {from: "07:00", to: "17:00", price_per_kwh: 0.29}, {from: "17:00", to: "21:00", price_per_kwh: 0.59}, {from: "21:00", to: "24:00", price_per_kwh: 0.29}]}
  export: {price_per_kwh: 0.08}
  demand_charge_per_kw_month: 0
"""  # noqa: E501 (verbatim from DESIGN.md §13)


def site_with(tariff: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(demo_config_path().read_text("utf-8"))
    document["tariff"] = tariff
    return document


def test_the_design_example_is_accepted() -> None:
    config = parse_edge_config(site_with(yaml.safe_load(DESIGN_EXAMPLE)["tariff"]))
    assert config.tariff is not None
    windows = config.tariff.import_.windows
    assert windows is not None
    assert [(w.from_, w.to, w.price_per_kwh) for w in windows][2] == ("17:00", "21:00", 0.59)
    assert config.tariff.export.price_per_kwh == 0.08


def test_other_sources_and_defaults() -> None:
    constant = TariffConfig.model_validate({"currency": "CHF", "import": {"price_per_kwh": 0.3}})
    assert constant.export.price_per_kwh == 0.0, "no export price: feed-in earns nothing"
    assert constant.demand_charge_per_kw_month == 0.0
    csv = TariffConfig.model_validate(
        {"currency": "EUR", "import": {"csv": "p.csv", "column": "price_per_kwh"}}
    )
    assert csv.import_.csv == "p.csv"
    assert parse_edge_config(site_with(None)).tariff is None


def test_a_window_may_run_past_midnight() -> None:
    segments = day_segments(
        TariffConfig.model_validate(
            {
                "currency": "EUR",
                "import": {
                    "windows": [
                        {"from": "22:00", "to": "06:00", "price_per_kwh": 0.1},
                        {"from": "06:00", "to": "22:00", "price_per_kwh": 0.3},
                    ]
                },
            }
        ).import_.windows
        or []
    )
    assert segments == [(0, 360, 0.1), (360, 1320, 0.3), (1320, 1440, 0.1)]


def w(start: str, end: str, price: float = 0.2) -> dict[str, Any]:
    return {"from": start, "to": end, "price_per_kwh": price}


@pytest.mark.parametrize(
    ("tariff", "message"),
    [
        ({"currency": "EUR", "import": {"windows": [w("00:00", "07:00"), w("08:00", "24:00")]}},
         r"tariff\.import: .*windows: no window covers 07:00-08:00"),
        ({"currency": "EUR", "import": {"windows": [w("00:00", "12:00"), w("11:00", "24:00")]}},
         r"tariff\.import: .*windows: windows overlap at 11:00-12:00"),
        ({"currency": "EUR", "import": {"windows": [w("00:00", "23:00")]}},
         r"tariff\.import: .*no window covers 23:00-24:00"),
        ({"currency": "EUR", "import": {"windows": [w("07:00", "07:00")]}},
         r"window 07:00-07:00 is empty"),
        ({"currency": "EUR", "import": {"windows": [w("7:00", "24:00")]}},
         r"tariff\.import\.windows\[0\]\.from: .*'7:00' is not a time"),
        ({"currency": "EUR", "import": {"windows": [w("00:00", "24:30")]}},
         r"tariff\.import\.windows\[0\]\.to: .*'24:30' is not a time"),
        ({"currency": "EUR", "import": {"price_per_kwh": 0.3, "csv": "p.csv", "column": "p"}},
         r"tariff\.import: .*exactly one of price_per_kwh, windows or csv \(got price_per_kwh, c"),
        ({"currency": "EUR", "import": {}}, r"tariff\.import: .*exactly one .*\(got none\)"),
        ({"currency": "EUR", "import": {"csv": "p.csv"}}, r"tariff\.import: .*csv needs column"),
        ({"currency": "EUR", "import": {"price_per_kwh": 0.3}, "demand_charge_per_kw_month": -1},
         r"tariff\.demand_charge_per_kw_month: .*greater than or equal to 0"),
        ({"currency": "euro", "import": {"price_per_kwh": 0.3}}, r"tariff\.currency: "),
        ({"currency": "EUR"}, r"tariff\.import: Field required"),
        ({"currency": "EUR", "import_": {"price_per_kwh": 0.3}}, r"tariff\.import_: unknown key"),
        ({"currency": "EUR", "import": {"price_per_kwh": 0.3}, "vat": 0.2},
         r"tariff\.vat: unknown key"),
    ],
)  # fmt: skip
def test_bad_tariffs_are_refused_naming_the_field(tariff: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_edge_config(site_with(tariff))
