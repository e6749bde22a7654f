"""A real pymodbus TCP server on loopback holding SunSpec maps built by pysunspec2.

The maps are encoded by pysunspec2's own model machinery (``Model(...).get_mb()``)
from known raw values, so neither the server nor the encoding is ours.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType
from sunspec2.device import Model

SUNS = [0x5375, 0x6E53]
END = [0xFFFF, 0]
UNIT_ID = 1


def model_words(model_id: int, raw: dict[str, Any]) -> list[int]:
    """One model (ID and L included) as pysunspec2 encodes it from raw point values."""
    model = Model(model_id=model_id, data=raw)
    assert not model.error_info, model.error_info
    data = model.get_mb()
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def sunspec_map(models: list[tuple[int, dict[str, Any]]]) -> list[int]:
    """Marker, the models in order, then the end model."""
    words = list(SUNS)
    for model_id, raw in models:
        words += model_words(model_id, raw)
    return words + END


class LoopbackServer:
    """A pymodbus ModbusTcpServer in its own thread and event loop, on 127.0.0.1."""

    def __init__(self, blocks: dict[int, list[int]], port: int = 0) -> None:
        self._blocks = blocks
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._server: ModbusTcpServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = port  # 0: any free port, known once started
        self._thread = threading.Thread(target=self._run, name="sunspec-test-server", daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        if self._failed is not None:
            raise self._failed
        return self

    def _run(self) -> None:
        async def serve() -> None:
            device = SimDevice(
                id=UNIT_ID,
                simdata=[
                    SimData(address=a, values=words, datatype=DataType.REGISTERS)
                    for a, words in sorted(self._blocks.items())
                ],
            )
            self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await self._server.serve_forever(background=True)
            self._loop = asyncio.get_running_loop()
            transport: Any = self._server.transport
            self.port = int(transport.sockets[0].getsockname()[1])
            self._ready.set()
            await self._server.serving

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to the test by start()
            self._failed = exc
            self._ready.set()

    def stop(self) -> None:
        if self._server is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        self._thread.join(10)
        assert not self._thread.is_alive(), "server thread did not stop"


ServeFn = Callable[[dict[int, list[int]]], LoopbackServer]


COMMON = {"Mn": "Acme Solar", "Md": "SP-5000", "Vr": "1.2.3", "SN": "A123456", "DA": 1}
INVERTER_103 = {
    "A": 123, "AphA": 41, "AphB": 41, "AphC": 41, "A_SF": -1,
    "PhVphA": 2301, "PhVphB": 2299, "PhVphC": 2305, "V_SF": -1,
    "W": 4567, "W_SF": 0,
    "Hz": 5001, "Hz_SF": -2,
    "VA": 4600, "VA_SF": 0,
    "WH": 1234567, "WH_SF": 0,
    "DCW": 4700, "DCW_SF": 0,
    "TmpCab": 415, "Tmp_SF": -1,
    "St": 4, "Evt1": 0,
}  # fmt: skip
NAMEPLATE_120 = {
    "DERTyp": 82, "WRtg": 5000, "WRtg_SF": 0, "VARtg": 5000, "VARtg_SF": 0,
    "VArRtgQ1": 3000, "VArRtgQ2": 3000, "VArRtgQ3": -3000, "VArRtgQ4": -3000, "VArRtg_SF": 0,
    "ARtg": 22, "ARtg_SF": 0, "PFRtgQ1": 80, "PFRtgQ2": 80, "PFRtgQ3": -80, "PFRtgQ4": -80,
    "PFRtg_SF": -2, "WHRtg": 100, "WHRtg_SF": 2, "AhrRtg": 200, "AhrRtg_SF": 0,
    "MaxChaRte": 5000, "MaxChaRte_SF": 0, "MaxDisChaRte": 4500, "MaxDisChaRte_SF": 0,
}  # fmt: skip
CONTROLS_123 = {
    "Conn": 1, "WMaxLimPct": 1000, "WMaxLim_Ena": 0, "OutPFSet": 100, "OutPFSet_Ena": 0,
    "VArPct_Ena": 0, "WMaxLimPct_SF": -1, "OutPFSet_SF": -2, "VArPct_SF": 0,
}  # fmt: skip
STORAGE_124 = {
    "WChaMax": 5000, "WChaGra": 100, "WDisChaGra": 100, "StorCtl_Mod": 0,
    "ChaState": 655, "InBatV": 512, "ChaSt": 3, "OutWRte": 0, "InWRte": 0,
    "WChaMax_SF": 0, "WChaDisChaGra_SF": 0, "ChaState_SF": -1, "InBatV_SF": -1,
    "InOutWRte_SF": -1, "MinRsvPct": 10, "MinRsvPct_SF": 0,
}  # fmt: skip
DER_AC_701 = {
    "ACType": 3, "St": 1, "InvSt": 4, "ConnSt": 1, "Alrm": 0, "DERMode": 0,
    "W": -2500, "VA": 2600, "Var": 300, "PF": -95, "A": 109, "LLV": 4000, "LNV": 2310,
    "Hz": 50010, "TotWhInj": 987654, "TotWhAbs": 123456,
    "A_SF": -1, "V_SF": -1, "Hz_SF": -3, "W_SF": 0, "PF_SF": -2, "VA_SF": 0, "Var_SF": 0,
    "TotWh_SF": 0, "TotVarh_SF": 0, "Tmp_SF": -1, "TmpCab": 301,
}  # fmt: skip
DER_CAPACITY_702 = {
    "WMaxRtg": 80, "WChaRteMaxRtg": 60, "WDisChaRteMaxRtg": 70, "VNomRtg": 230,
    "W_SF": 2, "V_SF": 0, "PF_SF": -2, "VA_SF": 2, "Var_SF": 2, "A_SF": 0, "S_SF": 0,
}  # fmt: skip
DER_CONTROLS_704 = {
    "WMaxLimPctEna": 0, "WMaxLimPct": 1000, "WSetEna": 0, "WSetMod": 0, "WSet": 0,
    "PF_SF": -3, "WMaxLimPct_SF": -1, "WSet_SF": 0, "WSetPct_SF": -1, "VarSet_SF": 0,
    "VarSetPct_SF": -1,
    "PFWInj": {"PF": 950, "Ext": 1},
}  # fmt: skip
DER_STORAGE_713 = {
    "WHRtg": 135,
    "WHAvail": 80,
    "SoC": 593,
    "SoH": 980,
    "Sta": 1,
    "WH_SF": 2,
    "Pct_SF": -1,
}
