"""The cycle's estimation stage: each configured battery's filter, fed from the snapshot.

Every cycle, for each battery with an ``estimator:``, the stage looks for a
new ``Current`` sample (a later timestamp than the last one used): it carries
the filter forward by the time between the two, then corrects it with the
``Voltage`` sampled with that current (same timestamp, within
``_SAME_SAMPLE_S``). It publishes ``SocEstimate`` and ``SocEstimateStd`` with
that timestamp, so they go stale exactly when the BMS does.

A missing or stale voltage (a sensor dropout) only skips the correction: the
filter runs on the current alone and its ``SocEstimateStd`` grows. A missing
current publishes nothing new. A gap longer than ``max_gap_s`` (the device was
away) restarts the filter from the uncertain prior around its last estimate.
Running it twice on one snapshot does nothing the second time.

A battery with ``estimator: {type: learned}`` runs the same filter and, beside
it, the learned estimator (:mod:`ems.estimation.learned.estimator`), which
records the samples, retrains on a schedule off the cycle, and publishes in
``SocEstimate`` either its own estimate or the EKF's, saying which in
``SocEstimateSource`` (``learned`` | ``ekf``).

Health (:mod:`ems.estimation.health`) rides along: ``SohEstimate`` [%],
``InternalResistance`` [mΩ at 25 °C], ``RulDays`` [d] once the SOH has a
falling trend, and ``PrognosisEndOfLife`` [d], ``PrognosisTemperature`` [s]
and ``PrognosisResistance`` [%/year]: the prediction's value while it holds,
null (None) while it does not, so the cloud's alarms clear on the value itself.
``PrognosisEvidence`` holds, as JSON text, each active prediction's message,
confidence and evidence (also :meth:`SocEstimators.predictions`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ems.cells import chemistry
from ems.dal import Sample, Snapshot
from ems.estimation.config import EkfConfig, LearnedConfig
from ems.estimation.ekf import SocEkf
from ems.estimation.health import HealthTracker, Prediction

if TYPE_CHECKING:
    from ems.estimation.learned.estimator import LearnedSoc
    from ems.estimation.learned.trainers import Trainer

__all__ = ["SocEstimators"]

_SAME_SAMPLE_S = 0.5
_DEFAULT_TEMPERATURE_C = 25.0
_DEFAULT_SOC_PCT = 50.0


_PROGNOSIS_CHANNELS = {
    "end_of_life": "PrognosisEndOfLife",
    "temperature_rising": "PrognosisTemperature",
    "resistance_rising": "PrognosisResistance",
}


def _evidence_json(predictions: list[Prediction]) -> str:
    return json.dumps(
        [
            {
                "kind": p.kind,
                "message": p.message,
                "value": round(p.value, 3),
                "confidence": round(p.confidence, 4),
                "evidence": p.evidence,
            }
            for p in predictions
        ],
        sort_keys=True,
    )


def _temperature_limit_c(config: EkfConfig) -> float:
    if config.max_temperature_c is not None:
        return config.max_temperature_c
    return chemistry(config.chemistry).max_temperature_c


def _number(sample: Sample | None) -> float | None:
    if sample is None or isinstance(sample.value, bool):
        return None
    value = sample.value
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(slots=True)
class _Battery:
    device_id: str
    config: EkfConfig
    health: HealthTracker
    ekf: SocEkf | None = None
    last_ts: float | None = None
    started_ts: float | None = None  # of the filter now running
    temperature_c: float = _DEFAULT_TEMPERATURE_C
    voltage_skipped: int = field(default=0)
    predictions: list[Prediction] = field(default_factory=list)
    learned: LearnedSoc | None = None


class SocEstimators:
    """The filters of a site's batteries (device id -> its ``estimator:`` config).

    ``state_dir``: where learned models (and the history they learn from) are
    kept; None keeps them in memory. ``trainer``: makes each learned
    estimator's trainer (default: a child process; ``inline_training``: on
    the cycle's thread, deterministic, for simulations). ``carried``: the estimators
    running before a pushed config; a battery whose ``estimator:`` is unchanged goes on
    with its filter, health trends and learned model, not from a prior again."""

    def __init__(
        self,
        configs: Mapping[str, EkfConfig],
        state_dir: Path | None = None,
        trainer: Callable[[], Trainer] | None = None,
        inline_training: bool = False,
        carried: SocEstimators | None = None,
    ) -> None:
        running = {} if carried is None else {b.device_id: b for b in carried._batteries}
        self._batteries: list[_Battery] = []
        for device_id, config in sorted(configs.items()):
            battery = running.get(device_id)
            if battery is None or battery.config != config:
                battery = _Battery(
                    device_id, config, health=HealthTracker(config, _temperature_limit_c(config))
                )
                if isinstance(config, LearnedConfig):
                    battery.learned = _learned(
                        device_id, config, state_dir, trainer, inline_training
                    )
            self._batteries.append(battery)

    def learned_of(self, device_id: str) -> LearnedSoc | None:
        """The learned estimator of ``device_id`` (None unless ``type: learned``)."""
        for b in self._batteries:
            if b.device_id == device_id:
                return b.learned
        return None

    def close(self, successor: SocEstimators | None = None) -> None:
        """Stop any training under way, but that of the batteries ``successor`` carried on."""
        kept = set() if successor is None else {id(b) for b in successor._batteries}
        for b in self._batteries:
            if b.learned is not None and id(b) not in kept:
                b.learned.close()

    def filter_of(self, device_id: str) -> SocEkf | None:
        """The running filter of ``device_id`` (None before its first sample)."""
        for b in self._batteries:
            if b.device_id == device_id:
                return b.ekf
        return None

    def predictions(self, device_id: str) -> list[Prediction]:
        """What the health trends of ``device_id`` predict now, with evidence and confidence."""
        for b in self._batteries:
            if b.device_id == device_id:
                return list(b.predictions)
        return []

    def compute(self, snapshot: Snapshot) -> dict[str, Sample]:
        """New ``SocEstimate`` / ``SocEstimateStd`` samples from what is new in ``snapshot``."""
        out: dict[str, Sample] = {}
        for battery in self._batteries:
            out.update(self._step(battery, snapshot))
        return out

    def _step(self, b: _Battery, snapshot: Snapshot) -> dict[str, Sample]:
        prefix = b.device_id + "/"
        current = snapshot.get(prefix + "Current")
        current_a = _number(current)
        if current is None or current_a is None:
            return {}
        ts = current.ts
        if b.last_ts is not None and ts <= b.last_ts:
            return {}
        temperature = _number(snapshot.get(prefix + "Temperature"))
        if temperature is not None:
            b.temperature_c = temperature
        if b.ekf is None or b.last_ts is None or ts - b.last_ts > b.config.max_gap_s:
            b.ekf = self._start(b, snapshot)
            b.started_ts = ts
        else:
            b.ekf.predict(current_a, ts - b.last_ts, b.temperature_c)
        b.last_ts = ts
        voltage = snapshot.get(prefix + "Voltage")
        voltage_v = _number(voltage)
        if voltage is not None and voltage_v is not None and abs(voltage.ts - ts) <= _SAME_SAMPLE_S:
            b.ekf.update(voltage_v, current_a, b.temperature_c)
        else:
            voltage_v = None
            b.voltage_skipped += 1
        out = {
            prefix + "SocEstimate": Sample(b.ekf.soc_pct, ts),
            prefix + "SocEstimateStd": Sample(b.ekf.soc_std_pct, ts),
        }
        if b.learned is not None:
            limit_w = _number(snapshot.get(prefix + "MaxChargePower"))
            b.learned.observe(ts, voltage_v, current_a, b.temperature_c, b.ekf.soc_pct, limit_w)
            choice = b.learned.choose(ts, b.ekf.soc_pct, b.ekf.soc_std_pct)
            out[prefix + "SocEstimate"] = Sample(choice.soc_pct, ts)
            out[prefix + "SocEstimateStd"] = Sample(choice.std_pct, ts)
            out[prefix + "SocEstimateSource"] = Sample(choice.source, ts)
        out.update(self._health(b, ts))
        return out

    @staticmethod
    def _health(b: _Battery, ts: float) -> dict[str, Sample]:
        assert b.ekf is not None
        prefix = b.device_id + "/"
        ekf = b.ekf
        settled = b.started_ts is not None and ts - b.started_ts >= b.config.health_settle_s
        if b.health.observe(
            ts, ekf.capacity_factor, ekf.resistance_factor, b.temperature_c, settled
        ):
            b.predictions = b.health.predictions()
        out = {
            prefix + "SohEstimate": Sample(100.0 * ekf.capacity_factor, ts),
            prefix + "InternalResistance": Sample(1000.0 * ekf.r0_ohm(25.0), ts),
        }
        rul = b.health.rul_days()
        if rul is not None:
            out[prefix + "RulDays"] = Sample(rul[0], ts)
        active = {p.kind: p for p in b.predictions}
        for kind, channel in _PROGNOSIS_CHANNELS.items():
            held = active.get(kind)
            out[prefix + channel] = Sample(None if held is None else held.value, ts)
        out[prefix + "PrognosisEvidence"] = Sample(_evidence_json(b.predictions), ts)
        return out

    @staticmethod
    def _start(b: _Battery, snapshot: Snapshot) -> SocEkf:
        start = b.config.initial_soc_pct
        if b.ekf is not None:
            start = b.ekf.soc_pct  # after a gap: from where it was, with the wide prior
        if start is None:
            start = _number(snapshot.get(b.device_id + "/Soc"))
        return SocEkf(b.config, _DEFAULT_SOC_PCT if start is None else start)


def _learned(
    device_id: str,
    config: LearnedConfig,
    state_dir: Path | None,
    trainer: Callable[[], Trainer] | None,
    inline: bool,
) -> LearnedSoc:
    # Imported here: a site with EKFs only never loads the learned estimator's modules.
    from ems.estimation.learned.estimator import LearnedSoc
    from ems.estimation.learned.trainers import InlineTrainer, ProcessTrainer

    make = trainer or (InlineTrainer if inline else ProcessTrainer)
    ekf_pack = SocEkf(config, _DEFAULT_SOC_PCT).pack
    return LearnedSoc(device_id, config, ekf_pack.capacity_ah, make(), state_dir)
