"""A BMS played by a second python-can bus on the same ``virtual`` channel, and
an edge on a virtual clock whose ``can_bms`` battery listens to it.

Frames are built with cantools from the DBC the driver reads, so the test
checks the driver against the library's own encoding, not against bytes
typed in here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can
import cantools
from cantools.database.can import Database

from ems.clock import VirtualClock
from ems.dal import Sample
from ems.drivers.can_bms import CanBmsDriver, find_dbc
from ems.drivers.host import DriverRunner
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime

GENERIC_DBC = find_dbc("generic_bms", Path())
#: How long a test waits for frames to land on the driver's side [s].
WAIT_S = 5.0

_channels = itertools.count()

#: What the generic BMS sends unless a test says otherwise (signal values, scaled).
NORMAL: dict[str, dict[str, float]] = {
    "BMS_Status": {"SOC": 55.5, "SOH": 98.0, "State": 1},
    "BMS_Pack": {"PackVoltage": 400.0, "PackCurrent": -10.0},
    "BMS_Temperatures": {"MinCellTemp": 20.5, "MaxCellTemp": 25.0},
    "BMS_Limits": {
        "ChargeCurrentLimit": 25.0,
        "DischargeCurrentLimit": 30.0,
        "ChargeVoltageLimit": 420.0,
        "DischargeVoltageLimit": 350.0,
    },
}


def fresh_channel() -> str:
    """A virtual channel no other test uses (the virtual interface is process-wide)."""
    return f"ems-test-bms-{next(_channels)}"


class VirtualBms:
    """Sends DBC-encoded frames; ``sent`` counts them, for the driver to wait on."""

    def __init__(self, channel: str, dbc: Path = GENERIC_DBC) -> None:
        db = cantools.database.load_file(dbc)
        assert isinstance(db, Database)
        self.db = db
        self.channel = channel
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.sent = 0

    def send(self, message: str, signals: dict[str, Any]) -> None:
        spec = self.db.get_message_by_name(message)
        data = spec.encode(signals)
        self.send_raw(spec.frame_id, data, extended=spec.is_extended_frame)

    def send_all(self, **changes: dict[str, float]) -> None:
        """Every message of the generic BMS, with ``changes`` per message."""
        for message, signals in NORMAL.items():
            self.send(message, {**signals, **changes.get(message, {})})

    def send_raw(self, frame_id: int, data: bytes, extended: bool = False) -> None:
        """A frame of a message the driver listens to (counted in ``sent``)."""
        self.send_foreign(frame_id, data, extended)
        self.sent += 1

    def send_foreign(self, frame_id: int, data: bytes, extended: bool = False) -> None:
        """A frame the driver does not listen to (another node on the bus)."""
        self.bus.send(can.Message(arbitration_id=frame_id, data=data, is_extended_id=extended))

    @contextmanager
    def broadcasting(self, period_s: float = 0.02, **changes: dict[str, float]) -> Iterator[None]:
        """Send every message each ``period_s`` on a thread, as a real BMS does."""
        stop = threading.Event()
        bus = can.Bus(interface="virtual", channel=self.channel)

        def run() -> None:
            while not stop.is_set():
                for message, signals in NORMAL.items():
                    spec = self.db.get_message_by_name(message)
                    data = spec.encode({**signals, **changes.get(message, {})})
                    frame = can.Message(
                        arbitration_id=spec.frame_id, data=data, is_extended_id=False
                    )
                    bus.send(frame)
                stop.wait(period_s)  # the BMS's own period, not a test's wait

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(WAIT_S)
            bus.shutdown()

    def close(self) -> None:
        self.bus.shutdown()


def bms_document(channel: str, **params: Any) -> dict[str, object]:
    """An edge YAML document (as decoded) with one ``can_bms`` battery on ``channel``."""
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [
            {
                "id": "battery_1",
                "profile": "battery",
                "driver": "can_bms",
                # No retries: their backoff waits on the virtual clock the test drives.
                # A short timeout_s: a poll of a silent bus waits that long, in real time.
                "params": {
                    "interface": "virtual",
                    "channel": channel,
                    "silence_s": 3.0,
                    "retries": 0,
                    "timeout_s": 0.05,
                    **params,
                },
            }
        ],
    }


@dataclass
class BmsEdge:
    rt: EdgeRuntime
    clock: VirtualClock
    runner: DriverRunner
    driver: CanBmsDriver
    bms: VirtualBms

    def landed(self) -> None:
        """Wait until every frame the BMS sent has reached the driver."""
        assert self.driver.frames.wait_for_frames(self.bms.sent, WAIT_S)

    def get(self, channel: str) -> Sample:
        sample = self.rt.store.get_channel(f"battery_1/{channel}")
        assert sample is not None, channel
        return sample

    def value(self, channel: str) -> object:
        return self.get(channel).value

    def close(self) -> None:
        self.rt.drivers.stop()
        self.bms.close()


def start_bms_edge(**params: Any) -> BmsEdge:
    channel = fresh_channel()
    clock = VirtualClock()
    rt = EdgeRuntime(parse_edge_config(bms_document(channel, **params)), clock)
    runner = rt.drivers.runners["battery_1"]
    driver = runner.driver
    assert isinstance(driver, CanBmsDriver)
    driver.connect()  # listening before the BMS speaks: the virtual bus keeps no backlog
    return BmsEdge(rt, clock, runner, driver, VirtualBms(channel))
