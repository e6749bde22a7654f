"""The OpenADR 2.0b VEN on a thread of its own with its own event loop.

The cycle never waits on it: it reads the book. The VEN registers (again every
``retry_s`` while the VTN cannot be reached), answers each event with optIn or
optOut as :func:`decide` says (an optOut also sends an ``oadrCreateOpt`` with
reason ``notParticipating``; the detailed reason code is logged and kept in the
book), offers a TELEMETRY_USAGE report of the grid import (``powerReal``, W) and
sends it when the VTN asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import timedelta
from typing import Any

from openleadr import OpenADRClient, enums  # type: ignore[import-untyped]

from ems.edge.controllers.demand_response.book import EventBook
from ems.edge.controllers.demand_response.config import DemandResponseParams
from ems.edge.controllers.demand_response.events import decide

__all__ = ["Ven"]

log = logging.getLogger(__name__)

REPORT_SPECIFIER_ID = "ems-grid-import"


class Ven:
    def __init__(self, params: DemandResponseParams, book: EventBook) -> None:
        self.params = params
        self.book = book
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"ven-{self.params.ven_name}", daemon=True
        )
        self._thread.start()
        self._started.wait(10.0)

    @property
    def running(self) -> bool:
        """Whether the VEN's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception:  # the VEN must never take the edge down with it
            log.exception("VEN %s stopped on an error", self.params.ven_name)
            self.book.set_ven_state("failed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        self._started.set()
        while not stopping.is_set():
            client = self._client()
            try:
                await client.run()
            except Exception as err:  # a VTN that answers nonsense is a VTN that is down
                log.warning("VEN %s: registration failed: %s", self.params.ven_name, err)
            if client.registration_id:
                self.book.set_ven_state("registered")
                log.info("VEN %s registered as %s", self.params.ven_name, client.ven_id)
                await stopping.wait()
            else:
                self.book.set_ven_state("offline")
            with contextlib.suppress(Exception):
                await client.stop()
            if not stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.params.retry_s)

    def _client(self) -> OpenADRClient:
        p = self.params
        client = OpenADRClient(
            ven_name=p.ven_name,
            vtn_url=p.vtn_url,
            ven_id=p.ven_id,
            cert=p.cert,
            key=p.key,
            ca_file=p.ca_file,
            vtn_fingerprint=p.vtn_fingerprint,
            show_fingerprint=False,
            disable_signature=p.cert is None,
        )
        client.add_handler("on_event", lambda event: self._on_event(client, event))
        client.add_handler("on_update_event", lambda event: self._on_event(client, event))
        client.add_report(
            callback=self._grid_import_w,
            resource_id="grid",
            measurement=enums.MEASUREMENTS.REAL_POWER,
            unit="W",
            scale="none",
            report_specifier_id=REPORT_SPECIFIER_ID,
            r_id="grid_import_w",
            report_duration=timedelta(hours=1),
            sampling_rate=timedelta(seconds=p.report_interval_s),
        )
        return client

    def _grid_import_w(self) -> float | None:
        view = self.book.view
        return None if view is None else view.grid_w

    async def _on_event(self, client: OpenADRClient, event: dict[str, Any]) -> str:
        status = event.get("event_descriptor", {}).get("event_status")
        event_id = str(event.get("event_descriptor", {}).get("event_id"))
        if status in ("cancelled", "completed"):
            self.book.cancel(event_id)
            return "optIn"
        p = self.params
        decision = decide(event, self.book.view, p.simple_import_limits_w, p.energy_margin_pct)
        level = logging.INFO if decision.opt == "optIn" else logging.WARNING
        log.log(level, "VEN %s: %s event %s: %s (%s)", p.ven_name, decision.opt,
                decision.event_id, decision.reason, decision.detail)  # fmt: skip
        if decision.opt == "optOut":
            asyncio.get_running_loop().create_task(self._opt_out(client, event))
        self.book.accept(decision)
        return decision.opt

    async def _opt_out(self, client: OpenADRClient, event: dict[str, Any]) -> None:
        descriptor = event.get("event_descriptor", {})
        try:
            await client.create_opt(
                opt_type="optOut",
                opt_reason=enums.OPT_REASON.NOT_PARTICIPATING,
                targets=[{"ven_id": client.ven_id}],
                event_id=descriptor.get("event_id"),
                modification_number=descriptor.get("modification_number"),
            )
        except Exception as err:  # the optOut in oadrCreatedEvent stands regardless
            log.warning("VEN %s: oadrCreateOpt failed: %s", self.params.ven_name, err)
