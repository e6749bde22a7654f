"""The demand-response VEN against a real openleadr VTN on loopback: it registers,
opts in to an event it can honour and the cycle then holds the import under the
limit, opts out of one it cannot, sends its import telemetry, and a VTN that is
gone disturbs neither the VEN thread nor the cycle."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.web_exceptions import NotAppKeyWarning
from openleadr import OpenADRServer  # type: ignore[import-untyped]

from ems.edge.controllers.demand_response import DemandResponse, DemandResponseParams
from ems.edge.testing import CycleHarness, devices_of
from support.processes import free_port

B = "battery_1"
SET = f"{B}/SetActivePower"
DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
VEN_ID = "ven-site-1"
WAIT_S = 20.0


class Vtn:
    """An OpenADRServer on its own thread and loop, recording what the VEN sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/OpenADR2/Simple/2.0b"
        self.opts: dict[str, str] = {}
        self.opted = threading.Condition()
        self.reports: list[tuple[datetime, float]] = []
        self.reported = threading.Condition()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        with warnings.catch_warnings():
            # openleadr keys its aiohttp app with strings; aiohttp only recommends AppKey.
            warnings.simplefilter("ignore", NotAppKeyWarning)
            self.server = self._server()
        self.server.add_handler("on_create_party_registration", self._register)
        self.server.add_handler("on_register_report", self._register_report)
        self.loop.run_until_complete(self.server.run())
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def _server(self) -> Any:
        return OpenADRServer(
            vtn_id="TESTVTN",
            http_host="127.0.0.1",
            http_port=self.port,
            requested_poll_freq=timedelta(seconds=1),
            show_server_cert_domain=False,
        )

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(WAIT_S)

    def stop(self) -> None:
        """Stop the server (once; a test may stop it early)."""
        if not self._thread.is_alive():
            return
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(WAIT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT_S)

    @staticmethod
    def _register(info: dict[str, Any]) -> tuple[str, str]:
        return VEN_ID, "reg-1"

    def _register_report(
        self,
        ven_id: str,
        resource_id: str,
        measurement: str,
        unit: str,
        scale: str,
        min_sampling_interval: timedelta,
        max_sampling_interval: timedelta,
    ) -> tuple[Any, timedelta]:
        # openleadr's compact form: it passes these by name, one call per data point.
        self.offered = (resource_id, measurement, unit)
        return self._on_report, timedelta(seconds=1)

    def _on_report(self, values: list[tuple[datetime, float]]) -> None:
        with self.reported:
            self.reports.extend(values)
            self.reported.notify_all()

    def wait_report(self, value: float) -> bool:
        """Until a report carries ``value`` (earlier samples may carry older ones)."""
        with self.reported:
            return self.reported.wait_for(
                lambda: any(v == pytest.approx(value) for _, v in self.reports), WAIT_S
            )

    def _on_opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        with self.opted:
            self.opts[event_id] = opt_type
            self.opted.notify_all()

    def add_event(self, limit_kw: float, start: datetime, hours: float) -> str:
        """A LOAD_DISPATCH setpoint event (added on the VTN's own loop)."""
        assert self.loop is not None

        async def add() -> str:
            interval = {
                "dtstart": start,
                "duration": timedelta(hours=hours),
                "signal_payload": limit_kw,
            }
            event_id: str = self.server.add_event(
                ven_id=VEN_ID,
                signal_name="LOAD_DISPATCH",
                signal_type="setpoint",
                intervals=[interval],
                callback=self._on_opt,
            )
            return event_id

        return asyncio.run_coroutine_threadsafe(add(), self.loop).result(WAIT_S)

    def wait_opt(self, event_id: str) -> str | None:
        with self.opted:
            self.opted.wait_for(lambda: event_id in self.opts, WAIT_S)
            return self.opts.get(event_id)


@pytest.fixture
def vtn() -> Iterator[Vtn]:
    server = Vtn()
    server.start()
    yield server
    server.stop()


def controller(url: str, **more: Any) -> DemandResponse:
    params = DemandResponseParams(
        vtn_url=url, ven_name="site-1", report_interval_s=1, retry_s=1, **more
    )
    return DemandResponse("dr", 30, params, DEVICES)


def cycle(h: CycleHarness, grid_w: float, battery_w: float = 0.0) -> Any:
    h.advance(1)
    h.set_many(
        {
            f"{B}/Soc": 80.0,
            f"{B}/Capacity": 10_000.0,
            f"{B}/MaxChargePower": 5000.0,
            f"{B}/MaxDischargePower": 5000.0,
            f"{B}/ActivePower": battery_w,
            "grid/ActivePower": grid_w,
        }
    )
    h.cycle_once()
    return h.output(SET)


def test_event_opted_in_limits_import_and_the_import_is_reported(vtn: Vtn) -> None:
    dr = controller(vtn.url)
    try:
        h = CycleHarness([dr], DEVICES)
        assert cycle(h, 6000) == 0, "no event yet"
        assert dr.book.wait_ven_state("registered", WAIT_S)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        event_id = vtn.add_event(3.0, start, hours=1)  # 3 kW cap for an hour: 3 kWh
        decision = dr.book.wait_decision(event_id, WAIT_S)
        assert decision is not None
        assert (decision.opt, decision.reason) == ("optIn", "participating")
        assert vtn.wait_opt(event_id) == "optIn", "the VTN got the opt-in"
        # The cycle, on its own (virtual) clock: before the event nothing, during it
        # the battery covers what the import exceeds 3 kW by.
        h.clock.set_time(start.timestamp() - 10)
        assert cycle(h, 6000) == 0
        assert h.output("dr/State") == "standby"
        h.clock.set_time(start.timestamp())
        assert cycle(h, 6000) == 3000
        assert cycle(h, 3000, battery_w=3000) == 3000, "import held at 3 kW"
        assert h.output("dr/State") == "limiting"
        assert h.output("dr/Ven") == "registered"
        # The telemetry report: the grid import the cycle last published.
        assert vtn.wait_report(3000.0), f"no oadrUpdateReport of 3 kW: {vtn.reports}"
        assert vtn.offered[0] == "grid"
    finally:
        dr.close()


def test_event_the_battery_cannot_honour_is_opted_out(vtn: Vtn) -> None:
    dr = controller(vtn.url)
    try:
        h = CycleHarness([dr], DEVICES)
        cycle(h, 6000)  # usable: (80 − 5) % of 10 kWh · 0.95 = 7.1 kWh
        assert dr.book.wait_ven_state("registered", WAIT_S)
        start = datetime.now(UTC) + timedelta(minutes=5)
        event_id = vtn.add_event(2.0, start, hours=4)  # 4 kW for 4 h: 16 kWh
        decision = dr.book.wait_decision(event_id, WAIT_S)
        assert decision is not None
        assert (decision.opt, decision.reason) == ("optOut", "insufficient_energy")
        assert vtn.wait_opt(event_id) == "optOut"
        h.clock.set_time(start.timestamp() + 60)
        assert cycle(h, 6000) == 0, "an event opted out of changes nothing"
        assert h.output("dr/State") == "standby"
    finally:
        dr.close()


def test_a_lost_vtn_disturbs_nothing(vtn: Vtn) -> None:
    dr = controller(vtn.url)
    try:
        h = CycleHarness([dr], DEVICES)
        cycle(h, 6000)
        assert dr.book.wait_ven_state("registered", WAIT_S)
        start = datetime.now(UTC) + timedelta(minutes=5)
        event_id = vtn.add_event(3.0, start, hours=1)
        assert dr.book.wait_decision(event_id, WAIT_S) is not None
        vtn.stop()  # gone: polls fail on the VEN's thread, the accepted event stands
        h.clock.set_time(start.timestamp() + 60)
        for _ in range(5):
            assert cycle(h, 6000) == 3000
    finally:
        dr.close()


def test_an_unreachable_vtn_leaves_the_cycle_running() -> None:
    dr = controller(f"http://127.0.0.1:{free_port()}/OpenADR2/Simple/2.0b")
    try:
        h = CycleHarness([dr], DEVICES)
        assert cycle(h, 6000) == 0, "the first cycle starts the VEN and does not wait for it"
        assert dr.book.wait_ven_state("offline", WAIT_S)
        assert cycle(h, 6000) == 0
        assert h.output("dr/State") == "standby"
        assert h.output("dr/Ven") == "offline"
    finally:
        dr.close()
