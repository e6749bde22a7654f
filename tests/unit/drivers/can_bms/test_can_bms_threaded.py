"""The BMS driver on the host's own thread, on the real clock: a BMS that stops
broadcasting goes CommunicationFailed, and comes back without a restart.

The test waits on DAL writes (watches with a timeout), never on sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bms_bus import WAIT_S, VirtualBms, bms_document, fresh_channel

from ems.clock import RealClock
from ems.dal import Sample
from ems.drivers.can_bms import CanBmsDriver
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime


class Seen:
    """Set when ``address`` is written with a sample that ``want`` accepts."""

    def __init__(self, rt: EdgeRuntime, address: str, want: Callable[[Sample], bool]) -> None:
        self.event = threading.Event()

        def seen(_address: str, sample: Sample) -> None:
            if want(sample):
                self.event.set()

        self.close = rt.store.watch(address, seen)

    def wait(self) -> bool:
        return self.event.wait(WAIT_S)


def test_a_bms_that_stops_broadcasting_fails_and_recovers_on_the_host_thread() -> None:
    channel = fresh_channel()
    params = {"poll_s": 0.05, "silence_s": 0.3, "timeout_s": 0.1, "retries": 1}
    rt = EdgeRuntime(parse_edge_config(bms_document(channel, **params)), RealClock())
    driver = rt.drivers.runners["battery_1"].driver
    assert isinstance(driver, CanBmsDriver)
    bms = VirtualBms(channel)
    answering = Seen(rt, "battery_1/CommunicationFailed", lambda s: s.value is False)
    soc_60 = Seen(rt, "battery_1/Soc", lambda s: s.value == 60.0)
    rt.drivers.start()
    try:
        with bms.broadcasting():
            assert answering.wait()
        failed = Seen(rt, "battery_1/CommunicationFailed", lambda s: s.value is True)
        assert failed.wait()  # silent for silence_s, then every attempt of a poll timed out
        assert not soc_60.event.is_set()
        with bms.broadcasting(BMS_Status={"SOC": 60.0}):
            assert soc_60.wait()  # heard again: the host reopened the bus by itself
        sample = rt.store.get_channel("battery_1/CommunicationFailed")
        assert sample is not None and sample.value is False
    finally:
        rt.drivers.stop()
        bms.close()
