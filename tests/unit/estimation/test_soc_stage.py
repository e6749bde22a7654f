"""The cycle's estimation stage: new samples in, SocEstimate out, nothing twice."""

from __future__ import annotations

import math

import pytest

from ems.dal import Sample, Snapshot, Value
from ems.estimation import EkfConfig
from ems.estimation.stage import SocEstimators

B = "battery_1"
T0 = 1_775_001_600.0
REST_V = 16 * 3.2772 + 16 * (3.3511 - 3.2772) / (0.9833 - 0.2972) * (0.5 - 0.2972)  # OCV(50 %)


def snap(t: float, **channels: Value) -> Snapshot:
    return Snapshot({f"{B}/{n}": Sample(v, t) for n, v in channels.items()}, t)


def stage(**config: object) -> SocEstimators:
    return SocEstimators({B: EkfConfig.model_validate(config)})


def test_it_starts_from_the_bms_soc_and_stamps_the_estimate_with_the_current() -> None:
    s = stage()
    out = s.compute(snap(T0, Current=0.0, Voltage=REST_V, Temperature=25.0, Soc=50.0))
    assert set(out) == {
        f"{B}/SocEstimate",
        f"{B}/SocEstimateStd",
        f"{B}/SohEstimate",  # 100 % until the filter learns otherwise
        f"{B}/InternalResistance",
        f"{B}/PrognosisEndOfLife",  # null: nothing predicted
        f"{B}/PrognosisTemperature",
        f"{B}/PrognosisResistance",
        f"{B}/PrognosisEvidence",
    }
    assert out[f"{B}/PrognosisEndOfLife"].value is None
    assert out[f"{B}/PrognosisEvidence"].value == "[]"
    assert out[f"{B}/SohEstimate"].value == 100.0
    assert out[f"{B}/SocEstimate"].ts == T0
    assert out[f"{B}/SocEstimate"].value == pytest.approx(50.0, abs=0.5)


def test_the_same_samples_twice_change_nothing() -> None:
    s = stage()
    first = snap(T0, Current=0.0, Voltage=REST_V, Soc=50.0)
    s.compute(first)
    s.compute(snap(T0 + 1, Current=10.0, Voltage=REST_V - 0.1, Soc=50.0))
    ekf = s.filter_of(B)
    assert ekf is not None
    before = (ekf.soc_pct, ekf.soc_std_pct)
    assert s.compute(snap(T0 + 1, Current=10.0, Voltage=REST_V - 0.1, Soc=50.0)) == {}
    assert (ekf.soc_pct, ekf.soc_std_pct) == before


@pytest.mark.parametrize("current", [None, "n/a", math.nan, True])
def test_without_a_numeric_current_nothing_is_published(current: Value) -> None:
    assert stage().compute(snap(T0, Current=current, Voltage=REST_V, Soc=50.0)) == {}


@pytest.mark.parametrize(
    "voltage",
    [math.nan, math.inf, None, "glitch"],
)
def test_a_voltage_that_is_no_number_only_skips_the_correction(voltage: Value) -> None:
    skipped, corrected = stage(), stage()
    for s in (skipped, corrected):
        s.compute(snap(T0, Current=0.0, Voltage=REST_V, Soc=50.0))
        s.compute(snap(T0 + 10, Current=20.0, Voltage=REST_V, Soc=50.0))
    out = skipped.compute(snap(T0 + 20, Current=20.0, Voltage=voltage, Soc=50.0))
    twin = corrected.compute(snap(T0 + 20, Current=20.0, Voltage=REST_V - 0.1, Soc=50.0))
    estimate, std = out[f"{B}/SocEstimate"].value, out[f"{B}/SocEstimateStd"].value
    assert isinstance(estimate, float) and math.isfinite(estimate)
    # Predicted only: less sure than the twin that had a voltage to learn from.
    assert isinstance(std, float) and std > twin[f"{B}/SocEstimateStd"].value  # type: ignore[operator]


def test_a_voltage_from_another_moment_is_not_used_with_this_current() -> None:
    s = stage()
    s.compute(snap(T0, Current=0.0, Voltage=REST_V, Soc=50.0))
    old_voltage = Sample(REST_V + 1.0, T0)  # the voltage sensor stopped at T0
    data = {f"{B}/Current": Sample(30.0, T0 + 10), f"{B}/Voltage": old_voltage}
    s.compute(Snapshot(data, T0 + 10))
    ekf = s.filter_of(B)
    assert ekf is not None and ekf.rejected_total == 0
    assert ekf.soc_pct == pytest.approx(50.0 - 30 * 10 / 3600 / (10_000 / 51.2) * 100, abs=0.2)


def test_after_a_long_gap_it_restarts_around_its_last_estimate_with_the_wide_prior() -> None:
    s = stage(max_gap_s=60.0, initial_soc_std_pct=20.0)
    s.compute(snap(T0, Current=0.0, Voltage=REST_V, Soc=10.0))
    for k in range(1, 50):
        s.compute(snap(T0 + k, Current=0.0, Voltage=REST_V, Soc=10.0))
    ekf = s.filter_of(B)
    assert ekf is not None and ekf.soc_std_pct < 20.0
    settled = ekf.soc_pct
    out = s.compute(snap(T0 + 3600, Current=0.0, Voltage=math.nan, Soc=10.0))
    assert out[f"{B}/SocEstimate"].value == pytest.approx(settled)
    assert out[f"{B}/SocEstimateStd"].value == pytest.approx(20.0)
