"""Predictive battery alarms (issue 20 item 5): raised from what the edge's estimator predicts.

A battery with an estimator (:mod:`ems.estimation.stage`) publishes, per
prediction, a channel whose value is the prediction's headline number while it
holds and null while it does not: ``PrognosisEndOfLife`` (days to SOH 80 %),
``PrognosisTemperature`` (seconds to the cell temperature limit),
``PrognosisResistance`` (%/year of resistance growth). A number raises the
device's system alarm with that value; null clears it; a frame without the
channel changes nothing. The edge decides (it holds the history and the
confidence of each trend); its ``PrognosisEvidence`` channel carries why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ems.alarms.book import AlarmBook
from ems.alarms.evaluator import SampleLike
from ems.alarms.state import AlarmEvent
from ems.alarms.system import SystemAlarmKind

__all__ = ["PROGNOSIS_CHANNELS", "PrognosisWatch"]

#: Channel name -> the system alarm it raises.
PROGNOSIS_CHANNELS: dict[str, SystemAlarmKind] = {
    "PrognosisEndOfLife": SystemAlarmKind.BATTERY_END_OF_LIFE,
    "PrognosisTemperature": SystemAlarmKind.BATTERY_TEMPERATURE_RISING,
    "PrognosisResistance": SystemAlarmKind.BATTERY_RESISTANCE_RISING,
}


class PrognosisWatch:
    """Per edge, the prognosis channels of its devices (from the edge's inventory)."""

    def __init__(self) -> None:
        self._watched: dict[str, list[tuple[str, SystemAlarmKind, str]]] = {}

    def watch(self, edge_id: str, devices: Iterable[str]) -> None:
        # Addresses built once here, so a frame costs a few dict lookups.
        self._watched[edge_id] = [
            (f"{device}/{channel}", kind, device)
            for device in sorted(devices)
            for channel, kind in PROGNOSIS_CHANNELS.items()
        ]

    def observe(
        self, book: AlarmBook, edge_id: str, channels: Mapping[str, SampleLike]
    ) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for address, kind, device in self._watched.get(edge_id, ()):
            sample = channels.get(address)
            if sample is None:
                continue
            value = sample.v
            if value is None:
                event = book.clear_system(kind, edge_id, device=device)
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                event = book.raise_system(kind, edge_id, device=device, value=float(value))
            else:
                continue  # not a prediction (a malformed frame): ignored, never an error
            if event is not None:
                events.append(event)
        return events
