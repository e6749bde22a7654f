"""A setpoint from the dashboard to a real device register, through real processes.

``ems cloud`` (on a real redis-server) and ``ems edge`` run as processes; the
edge's battery is ``driver: modbus_tcp`` with the shipped ``generic_battery``
template, pointing at pymodbus's own server that this test runs on loopback.
The test is the dashboard: an operator's token from the auth service, the
``/ws/ui`` protocol. The server's request hook records every write (and can
refuse them), so the test sees both what reached the register and when.

The cloud refuses a setpoint once the battery's power limits are older than the
profile's ``max_age_s`` (30 s, not configurable): the stale step waits on the
edge's telemetry frames until that much time has passed, so the test takes
about 40 s of wall time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from pymodbus.constants import ExcCodes
from websockets.asyncio.client import ClientConnection

from ems.drivers.modbus.codec import decode, encode
from ems.drivers.modbus.template import RegisterMap, load_template, shipped_templates
from ems.profiles import builtin_profiles
from ems.timefmt import parse_rfc3339
from support.processes import EmsProcess
from support.site import CloudSite, command, next_of


def _driver_test_helper() -> ModuleType:
    """The driver tests' pymodbus server helper (``tests/unit/drivers/modbus_device.py``),
    the module those tests import when they run in the same session."""
    if (loaded := sys.modules.get("modbus_device")) is not None:
        return loaded
    path = Path(__file__).parents[1] / "unit" / "drivers" / "modbus_device.py"
    spec = importlib.util.spec_from_file_location("modbus_device", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["modbus_device"] = module
    spec.loader.exec_module(module)
    return module


modbus_device = _driver_test_helper()

EDGE_ID = "site-1"
TEMPLATE: RegisterMap = load_template(shipped_templates()["generic_battery"])
SETPOINT = TEMPLATE.channels["SetActivePower"]
SETPOINT_WORDS = 2  # int32
MAX_AGE_S = builtin_profiles()["battery"].actions["set_active_power"].dynamic_limits.max_age_s  # type: ignore[union-attr]
BOUNDS = ("battery_1/MaxChargePower", "battery_1/MaxDischargePower")
#: How long the device takes to answer a write of a new setpoint; the edge's write timeout
#: (``timeout_s`` below) is well above it [s].
WRITE_TAKES_S = 0.5
#: Frames and acks on a loaded 2-core machine: generous, never a timing assert [s].
WAIT_S = 30.0


def _words(address: int, value: int, kind: str) -> dict[int, int]:
    return dict(enumerate(encode(value, kind, TEMPLATE.word_order), start=address))


def battery_inputs() -> dict[int, int]:
    """SOC 50 %, 5 kW either way, per the shipped template's map."""
    ch = TEMPLATE.channels
    return {
        ch["Soc"].address: 500,
        **_words(ch["MaxChargePower"].address, 5000, "uint32"),
        **_words(ch["MaxDischargePower"].address, 5000, "uint32"),
        **_words(ch["Capacity"].address, 10_000, "uint32"),
    }


@dataclass
class Battery:
    """The device: pymodbus's server, with a hook that records the setpoint writes
    (monotonic time, decoded value), refuses them while ``refuse`` is set and takes
    its time to answer a new setpoint while ``slow`` is set."""

    server: Any = None
    writes: list[tuple[float, float]] = field(default_factory=list)
    refuse: threading.Event = field(default_factory=threading.Event)
    #: Only while set (a test that waits for the write's verdict): a server stopped
    #: with a write still sleeping in the hook would leave its task pending.
    slow: threading.Event = field(default_factory=threading.Event)

    async def hook(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is None or address != SETPOINT.address:
            return None
        if self.refuse.is_set():
            return ExcCodes.ILLEGAL_ADDRESS
        raw = [int(w) for w in set_values[:SETPOINT_WORDS]]
        offset = address - start_address
        if self.slow.is_set() and raw != registers[offset : offset + SETPOINT_WORDS]:
            # A device slow to take a new setpoint: an edge that said executed on
            # sending the write (not on the device's answer) would be seen saying it
            # before ``taken``. The same value rewritten every cycle is answered at once.
            await asyncio.sleep(WRITE_TAKES_S)
        # Right after this the server stores the words and answers: the edge can only
        # learn of the write (and say executed) after this time (``taken``).
        self.writes.append(
            (
                time.monotonic(),
                decode(raw, SETPOINT.type, SETPOINT.word_order or TEMPLATE.word_order),
            )
        )
        return None

    def start(self, port: int | None = None) -> None:
        sim = modbus_device.device({}, battery_inputs(), action=self.hook)
        self.server = modbus_device.ServerThread(sim, port=port)
        self.server.start()

    def register_value(self) -> float:
        """The setpoint register as pymodbus's own client reads it."""
        client = self.server.client()
        try:
            raw = client.read_holding_registers(
                SETPOINT.address, count=SETPOINT_WORDS, device_id=modbus_device.UNIT_ID
            ).registers
        finally:
            client.close()
        return decode(raw, SETPOINT.type, SETPOINT.word_order or TEMPLATE.word_order)


@dataclass
class Rig:
    site: CloudSite
    battery: Battery
    edge: EmsProcess


@pytest.fixture(scope="module")
def rig(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    data = tmp_path_factory.mktemp("driver-e2e")
    battery = Battery()
    battery.start()
    # A Redis database of its own: other tests of the session also run a site-1.
    own_db = urlunsplit(urlsplit(redis_url)._replace(path="/6"))
    site = CloudSite(data, env={"EMS_REDIS_URL": own_db})
    edge: EmsProcess | None = None
    try:
        site.create_accounts((EDGE_ID,))
        cloud = site.start_cloud()
        config = data / "edge.yaml"
        document = modbus_device.edge_document(
            modbus_device.modbus_device(
                "battery_1",
                "battery",
                "generic_battery",
                battery.server.port,
                poll_s=0.2,
                timeout_s=3.0,
            ),
            manual=True,
        )
        config.write_text(yaml.safe_dump(document), "utf-8")
        edge = EmsProcess(
            [
                "edge",
                "--config",
                str(config),
                "--cloud",
                site.http(""),
                "--edge-id",
                EDGE_ID,
                "--api-key-file",
                str(site.key_file(EDGE_ID)),
                "--data-dir",
                str(data / "edges" / EDGE_ID),
                "--no-table",
            ]
        )
        site.edges[EDGE_ID] = edge
        cloud.wait_for(f"edge {EDGE_ID} inventory", 60)
        asyncio.run(site.first_telemetry(EDGE_ID))  # the limits the cloud checks against
        yield Rig(site, battery, edge)
    finally:
        site.stop()
        if battery.server is not None:
            battery.server.stop()


async def send(ws: ClientConnection, value: float) -> dict[str, Any]:
    cmd = command(edge_id=EDGE_ID, value=value)
    await ws.send(json.dumps(cmd))
    return cmd


async def statuses_until_final(ws: ClientConnection, command_id: str) -> list[dict[str, Any]]:
    """The command's acks in arrival order, up to its final status."""
    acks: list[dict[str, Any]] = []
    while not acks or acks[-1]["status"] not in ("executed", "failed", "rejected"):
        acks.append(await next_of(ws, "ack", timeout_s=WAIT_S, command_id=command_id))
    return acks


async def telemetry(ws: ClientConnection, **expect: Any) -> dict[str, Any]:
    """The next telemetry frame of the edge whose channels have the values ``expect``
    (channel address -> value)."""
    while True:
        frame = await next_of(ws, "telemetry", timeout_s=WAIT_S, edge_id=EDGE_ID)
        channels = frame["channels"]
        if all(a in channels and channels[a]["v"] == v for a, v in expect.items()):
            return frame


@pytest.mark.asyncio
async def test_executed_only_after_the_register_holds_the_setpoint(rig: Rig) -> None:
    ws = await rig.site.ui()
    rig.battery.slow.set()
    try:
        cmd = await send(ws, -2000)
        acks = await statuses_until_final(ws, cmd["command_id"])
        executed_at = time.monotonic()
        rig.battery.slow.clear()
        assert [a["status"] for a in acks] == ["received", "delivered", "executed"], acks
        assert rig.battery.register_value() == -2000
        taken = next(t for t, v in rig.battery.writes if v == -2000)
        assert taken < executed_at
    finally:
        rig.battery.slow.clear()
        await ws.close()


@pytest.mark.asyncio
async def test_a_refused_write_fails_the_command(rig: Rig) -> None:
    ws = await rig.site.ui()
    rig.battery.refuse.set()
    try:
        cmd = await send(ws, 1500)
        acks = await statuses_until_final(ws, cmd["command_id"])
        assert [a["status"] for a in acks] == ["received", "delivered", "failed"], acks
        assert acks[-1]["reason"] == "device_write_failed", acks[-1]
        assert all(v != 1500 for _, v in rig.battery.writes)
        assert rig.battery.register_value() != 1500
    finally:
        rig.battery.refuse.clear()
        await ws.close()


@pytest.mark.asyncio
@pytest.mark.timeout(240)
async def test_a_silent_device_times_out_goes_stale_and_comes_back(rig: Rig) -> None:
    ws = await rig.site.ui()
    try:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": EDGE_ID}))
        port = rig.battery.server.port
        rig.battery.server.stop()
        frame = await telemetry(ws, **{"battery_1/CommunicationFailed": True})
        # The limits are now as old as they will get: the last poll that answered.
        limits_t = max(rig_time(frame, a) for a in BOUNDS)

        # Still fresh enough for the cloud: dispatched, and the write fails.
        cmd = await send(ws, 1000)
        acks = await statuses_until_final(ws, cmd["command_id"])
        assert [a["status"] for a in acks] == ["received", "delivered", "failed"], acks
        assert acks[-1]["reason"] == "device_timeout", acks[-1]

        # Past max_age_s by the edge's own clock (frames arrive every cycle).
        while True:
            frame = await next_of(ws, "telemetry", timeout_s=WAIT_S, edge_id=EDGE_ID)
            if parse_t(frame["ts"]) > limits_t + MAX_AGE_S + 2:
                break
        cmd = await send(ws, 1000)
        ack = await next_of(ws, "ack", timeout_s=WAIT_S, command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "stale_telemetry"), ack

        # The device answers again on its address: no restart of anything else.
        rig.battery.start(port)
        await telemetry(ws, **{"battery_1/CommunicationFailed": False})
        while True:  # the limits the cloud holds are fresh again
            frame = await next_of(ws, "telemetry", timeout_s=WAIT_S, edge_id=EDGE_ID)
            if (
                all(a in frame["channels"] for a in BOUNDS)
                and min(rig_time(frame, a) for a in BOUNDS) > limits_t + MAX_AGE_S
            ):
                break
        cmd = await send(ws, -1200)
        acks = await statuses_until_final(ws, cmd["command_id"])
        assert [a["status"] for a in acks] == ["received", "delivered", "executed"], acks
        assert rig.battery.register_value() == -1200
        assert rig.edge.proc.poll() is None
    finally:
        await ws.close()


def parse_t(stamp: str) -> float:
    return parse_rfc3339(stamp)


def rig_time(frame: dict[str, Any], address: str) -> float:
    """The sample time of ``address`` in a telemetry frame [epoch s]."""
    return parse_t(frame["channels"][address]["t"])
