"""Our reading of a SunSpec device equals pysunspec2's own Modbus client's, point by point.

The server is pymodbus's, the maps are encoded by pysunspec2 from known raw
values, and the reference reader is ``SunSpecModbusClientDeviceTCP``, which has
its own Modbus implementation: the only thing shared with the code under test is
the model definitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from sunspec_server import (
    COMMON,
    CONTROLS_123,
    DER_AC_701,
    DER_CAPACITY_702,
    DER_CONTROLS_704,
    DER_STORAGE_713,
    INVERTER_103,
    NAMEPLATE_120,
    STORAGE_124,
    UNIT_ID,
    ServeFn,
    sunspec_map,
)

from ems.drivers.sunspec import discover, model_def, open_tcp, read_model

DEVICES = {
    "inverter_with_storage": [
        (1, COMMON),
        (103, INVERTER_103),
        (120, NAMEPLATE_120),
        (123, CONTROLS_123),
        (124, STORAGE_124),
    ],
    "der_storage": [
        (1, COMMON),
        (701, DER_AC_701),
        (702, DER_CAPACITY_702),
        (704, DER_CONTROLS_704),
        (713, DER_STORAGE_713),
    ],
}


class Reference:
    """pysunspec2's client scanning the same server."""

    def __init__(self, port: int) -> None:
        self.device = SunSpecModbusClientDeviceTCP(
            slave_id=UNIT_ID, ipaddr="127.0.0.1", ipport=port, timeout=2
        )
        self.device.scan()

    def model(self, model_id: int) -> Any:
        self.device.models[model_id][0].read()
        return self.device.models[model_id][0]

    def cvalue(self, model_id: int, name: str) -> Any:
        model = self.model(model_id)
        group, _, point = name.rpartition(".")
        holder = model.groups[group] if group else model
        return holder.points[point].cvalue

    def close(self) -> None:
        self.device.close()


@pytest.fixture
def reference() -> Iterator[list[Reference]]:
    opened: list[Reference] = []
    yield opened
    for ref in opened:
        ref.close()


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_every_point_reads_as_pysunspec2_reads_it(
    serve: ServeFn, reference: list[Reference], device: str
) -> None:
    server = serve({40000: sunspec_map(DEVICES[device])})
    theirs = Reference(server.port)
    reference.append(theirs)
    client, regs = open_tcp("127.0.0.1", server.port)
    try:
        smap = discover(regs)
        assert [m.model_id for m in smap.models] == [m for m, _ in DEVICES[device]]
        assert [m.model_id for m in smap.models] == [m.model_id for m in theirs.device.model_list]
        compared = 0
        for ref in smap.models:
            ours = read_model(regs, ref)
            assert set(ours) == set(model_def(ref.model_id).points)
            for name, value in ours.items():
                assert value == theirs.cvalue(ref.model_id, name), (ref.model_id, name)
                compared += 1
    finally:
        client.close()
    # Every point of every model, not a sample.
    assert compared == sum(len(model_def(m).points) for m, _ in DEVICES[device]) > 100


def test_known_values_come_out_scaled_and_unimplemented_points_none(serve: ServeFn) -> None:
    server = serve({40000: sunspec_map(DEVICES["inverter_with_storage"])})
    client, regs = open_tcp("127.0.0.1", server.port)
    try:
        smap = discover(regs)
        common = read_model(regs, smap.models[0])
        inverter = read_model(regs, smap.models[1])
        nameplate = read_model(regs, smap.models[2])
    finally:
        client.close()
    assert (common["Mn"], common["Md"], common["SN"], common["Vr"]) == (
        "Acme Solar",
        "SP-5000",
        "A123456",
        "1.2.3",
    )
    assert inverter["A"] == pytest.approx(12.3)
    assert inverter["PhVphA"] == pytest.approx(230.1)
    assert inverter["Hz"] == pytest.approx(50.01)
    assert inverter["W"] == 4567
    assert inverter["WH"] == 1234567
    assert inverter["TmpCab"] == pytest.approx(41.5)
    assert inverter["PPVphAB"] is None  # uint16 0xFFFF
    assert inverter["VAr"] is None  # int16 0x8000, and its VAr_SF 0x8000 too
    assert inverter["TmpSnk"] is None
    assert nameplate["WHRtg"] == 10000  # 100 × 10^2
    assert nameplate["PFRtgQ3"] == pytest.approx(-0.8)
