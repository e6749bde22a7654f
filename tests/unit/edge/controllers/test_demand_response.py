"""Demand response as cycle tables (events put in the book directly), the opt-in
decision for each signal kind and each reason to opt out, and bad params."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from site_loop import SET, B, battery

from ems.edge.config import parse_edge_config
from ems.edge.controllers.demand_response import DemandResponse, DemandResponseParams
from ems.edge.controllers.demand_response.book import EventBook
from ems.edge.controllers.demand_response.events import Decision, ImportLimit, SiteView, decide
from ems.edge.controllers.self_consumption import SelfConsumption, SelfConsumptionParams
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
PARAMS = DemandResponseParams(vtn_url="http://127.0.0.1:1/OpenADR2/Simple/2.0b", ven_name="v")
START = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)


def harness(*more: Any) -> tuple[CycleHarness, EventBook]:
    book = EventBook()
    dr = DemandResponse("dr", 30, PARAMS, DEVICES, book=book)
    h = CycleHarness([*more, dr], DEVICES)
    h.clock.set_time(START.timestamp() - 1)
    return h, book


def limit_for(book: EventBook, limit_w: float, hours: float = 1.0) -> None:
    start_s = START.timestamp()
    lim = ImportLimit("ev1", start_s, start_s + hours * 3600.0, limit_w)
    book.accept(Decision("ev1", "optIn", "participating", "", (lim,)))


def cycle(h: CycleHarness, grid_w: float, **bat: float) -> Any:
    h.advance(1)
    h.set_many({**battery(**bat), f"{B}/Capacity": 10_000.0, "grid/ActivePower": grid_w})
    h.cycle_once()
    return h.output(SET)


@pytest.mark.parametrize(
    ("grid_w", "bat", "expected_w"),
    [
        (8000, {}, 5000),  # 5 kW over a 3 kW limit
        (8000, {"max_discharge_w": 2000}, 2000),  # the battery's live limit
        (6000, {"power_w": 1000}, 4000),  # import0 = 7 kW
        (1000, {}, 0),  # under the limit: alone it never charges
    ],
)
def test_alone_during_an_event(grid_w: float, bat: dict[str, float], expected_w: float) -> None:
    h, book = harness()
    limit_for(book, 3000)
    assert cycle(h, grid_w, **bat) == expected_w
    assert h.output("dr/State") == "limiting"
    assert h.output("dr/ImportLimitW") == 3000


def test_outside_the_event_it_stands_aside_and_publishes_the_site() -> None:
    h, book = harness()
    limit_for(book, 3000)
    h.clock.set_time(START.timestamp() + 3600.0)  # the event just ended
    assert cycle(h, 8000, soc=55.0) == 0
    assert h.output("dr/State") == "standby"
    assert book.view is not None
    assert book.view.net_import_w == 8000
    assert book.view.usable_wh == pytest.approx((55 - 5) / 100 * 10_000 * 0.95)


def test_composes_with_self_consumption() -> None:
    sc = SelfConsumption("sc", 10, SelfConsumptionParams(), DEVICES)
    h, book = harness(sc)
    limit_for(book, 3000)
    # 4 kW import: self-consumption discharges 4 kW, more than the 1 kW the limit needs.
    assert cycle(h, 4000) == 4000
    # Exporting 2 kW: self-consumption may charge it all (import 0 W, under the limit).
    h, book = harness(SelfConsumption("sc", 10, SelfConsumptionParams(), DEVICES))
    limit_for(book, 3000)
    assert cycle(h, -2000) == -2000


def test_beats_self_consumption_that_would_charge_over_the_limit() -> None:
    # Self-consumption with a grid target of 5 kW would charge 1 kW from a 4 kW import;
    # the 3 kW limit turns that into a 1 kW discharge.
    sc = SelfConsumption("sc", 10, SelfConsumptionParams(target_grid_w=5000), DEVICES)
    h, book = harness(sc)
    limit_for(book, 3000)
    assert cycle(h, 4000) == 1000


def test_stale_inputs_stand_aside() -> None:
    h, book = harness()
    limit_for(book, 3000)
    h.set_many({**battery(), f"{B}/Capacity": 10_000.0, "grid/ActivePower": 9000.0})
    h.advance(60)
    h.cycle_once()
    assert h.output("dr/State") == "stale_inputs"
    assert h.output(SET) == 0


def event(name: str, kind: str, *payloads: float, minutes: int = 60) -> dict[str, Any]:
    return {
        "event_descriptor": {"event_id": "e", "event_status": "far"},
        "active_period": {"dtstart": START, "duration": timedelta(minutes=minutes)},
        "event_signals": [
            {
                "signal_name": name,
                "signal_type": kind,
                "intervals": [
                    {"duration": timedelta(minutes=minutes), "signal_payload": p} for p in payloads
                ],
            }
        ],
    }


VIEW = SiteView(0.0, 6000.0, 6000.0, usable_wh=5000.0, max_discharge_w=5000.0)
SIMPLE_W = (4000.0, 3000.0, 1000.0)


@pytest.mark.parametrize(
    ("ev", "opt", "reason", "limits_w"),
    [
        (event("LOAD_DISPATCH", "setpoint", 3.0), "optIn", "participating", [3000.0]),
        (event("LOAD_DISPATCH", "delta", 2.0), "optIn", "participating", [4000.0]),
        (event("LOAD_CONTROL", "x-loadControlCapacity", 0.5), "optIn", "participating", [3000]),
        (event("SIMPLE", "level", 1, 2, minutes=30), "optIn", "participating", [4000.0, 3000.0]),
        (event("SIMPLE", "level", 0), "optIn", "participating", []),
        # 5 kW for 1 h + 10 % margin > 5 kWh
        (event("LOAD_DISPATCH", "setpoint", 1.0), "optOut", "insufficient_energy", []),
        (event("SIMPLE", "level", 3, minutes=30), "optIn", "participating", [1000.0]),
        (event("LOAD_DISPATCH", "setpoint", 0.5), "optOut", "insufficient_power", []),
        (event("ELECTRICITY_PRICE", "price", 0.3), "optOut", "unsupported_signal", []),
        ({"event_descriptor": {"event_id": "e"}}, "optOut", "malformed_event", []),
    ],
)
def test_decide(ev: dict[str, Any], opt: str, reason: str, limits_w: list[float]) -> None:
    d = decide(ev, VIEW, SIMPLE_W, energy_margin_pct=10.0)
    assert (d.opt, d.reason) == (opt, reason), d.detail
    assert [lim.limit_w for lim in d.limits] == limits_w
    if len(d.limits) == 2:
        assert d.limits[1].start_s == d.limits[0].end_s, "intervals follow each other"


def test_decide_without_a_cycle_opts_out() -> None:
    d = decide(event("LOAD_DISPATCH", "setpoint", 3.0), None, SIMPLE_W, 10.0)
    assert (d.opt, d.reason) == ("optOut", "no_site_data")


def site_config(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [{"id": B, "profile": "battery"}, {"id": "grid", "profile": "grid_meter"}],
        "controllers": [{"id": "dr", "type": "demand_response", "priority": 30, "params": params}],
    }


OK = {"vtn_url": "http://vtn.example/OpenADR2/Simple/2.0b", "ven_name": "site-1"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ven_name": "x"}, "controllers[0].params.vtn_url: Field required"),
        ({**OK, "vtn_url": "ftp://x"}, "params.vtn_url: String should match"),
        ({**OK, "ven_name": ""}, "params.ven_name"),
        ({**OK, "cert": "c.pem"}, "cert and key: give both or neither"),
        ({**OK, "simple_import_limits_w": [1, 2]}, "params.simple_import_limits_w"),
        ({**OK, "simple_import_limits_w": [1, 2, -3]}, "simple_import_limits_w: each limit"),
        ({**OK, "report_interval_s": 0}, "params.report_interval_s"),
        ({**OK, "vtn": "x"}, "params.vtn: unknown key"),
    ],
)
def test_bad_params_are_refused_naming_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(site_config(params))
    assert message in str(err.value)


def test_the_ven_starts_with_the_first_cycle_and_stops_on_close() -> None:
    """Built only to check a config (config sync's trial), it never registers with a VTN."""
    params = DemandResponseParams(vtn_url="http://127.0.0.1:9/OpenADR2/Simple/2.0b", ven_name="v")
    dr = DemandResponse("dr", 30, params, DEVICES)
    assert dr.ven is None, "no VEN before the first cycle"
    h = CycleHarness([dr], DEVICES)
    cycle(h, 1000)
    ven = dr.ven
    assert ven is not None
    dr.close()
    assert not ven.running
