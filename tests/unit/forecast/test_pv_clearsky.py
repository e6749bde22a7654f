"""PV from the clear sky: the array's scale from history, the index, never negative, 0 at night."""

from __future__ import annotations

import numpy as np
import pytest

from ems.forecast import Series
from ems.forecast.clearsky import ArrayGeometry, ClearSky, SiteLocation
from ems.forecast.pv import PvClearSkyForecaster

STEP_S = 900.0
DAY = 96
SITE = SiteLocation(48.14, 11.58, 520.0)  # Munich
ARRAY = ArrayGeometry(30.0, 180.0)
START_S = 1_781_049_600.0  # 2026-06-10T00:00Z


def _pv_history(days: int, w_per_w_m2: float, index_of_day: list[float]) -> Series:
    clear = ClearSky(SITE, ARRAY, STEP_S).poa_w_m2(START_S, days * DAY)
    index = np.repeat(np.asarray(index_of_day, dtype=np.float64), DAY)
    return Series(START_S, STEP_S, clear * w_per_w_m2 * index)


def _forecaster(**kwargs: float) -> PvClearSkyForecaster:
    return PvClearSkyForecaster(SITE, ARRAY, **kwargs)  # type: ignore[arg-type]


def test_clear_days_give_the_arrays_clear_sky_power() -> None:
    history = _pv_history(14, 5.0, [1.0] * 14)
    out = _forecaster().forecast(history, history.end_s, DAY)
    expected = ClearSky(SITE, ARRAY, STEP_S).poa_w_m2(history.end_s, DAY) * 5.0
    assert out.values.max() == pytest.approx(expected.max(), rel=0.03)
    np.testing.assert_allclose(out.values, expected, atol=0.03 * expected.max())


def test_never_negative_and_zero_at_night() -> None:
    history = _pv_history(10, 5.0, [1.0, 0.3, 0.8, 0.2, 1.0, 0.5, 0.9, 0.1, 0.6, 0.4])
    noisy = history.values + np.random.default_rng(1).normal(0.0, 200.0, history.values.shape)
    forecaster = _forecaster()
    out = forecaster.forecast(Series(START_S, STEP_S, noisy), history.end_s, 2 * DAY)
    assert forecaster.reason is None
    assert (out.values >= 0.0).all() and not np.isnan(out.values).any()
    night = ClearSky(SITE, ARRAY, STEP_S).poa_w_m2(history.end_s, 2 * DAY) == 0.0
    assert night.sum() > 20  # even in June
    assert (out.values[night] == 0.0).all()
    assert (out.values[~night] > 0.0).any()


def test_a_cloudy_spell_lowers_the_forecast_toward_climatology() -> None:
    sunny = _pv_history(14, 5.0, [1.0] * 14)
    dull = _pv_history(14, 5.0, [1.0] * 13 + [0.3])  # the last day was overcast
    f = _forecaster(index_decay_h=12.0)
    after_sun = f.forecast(sunny, sunny.end_s, DAY).values.sum()
    after_cloud = f.forecast(dull, dull.end_s, DAY).values.sum()
    assert after_cloud < after_sun
    # ... but tomorrow is mostly the climatological mean, not the overcast day again.
    assert after_cloud > 0.6 * after_sun


def test_without_sunny_history_it_uses_the_rating_or_falls_back() -> None:
    empty = Series(START_S, STEP_S, np.zeros(0))
    plain = _forecaster()
    out = plain.forecast(empty, START_S, DAY)
    assert plain.reason == "no_sunny_history"
    np.testing.assert_array_equal(out.values, np.zeros(DAY))
    rated = _forecaster(peak_power_w=6000.0)
    out = rated.forecast(empty, START_S, DAY)
    assert rated.reason is None
    assert 3000.0 < out.values.max() < 6000.0


def test_never_reads_past_the_start() -> None:
    history = _pv_history(10, 5.0, [0.5] * 10)
    start_s = START_S + 8 * 86_400.0
    poisoned = history.values.copy()
    poisoned[8 * DAY :] = 1e6
    a = _forecaster().forecast(history, start_s, DAY)
    b = _forecaster().forecast(Series(START_S, STEP_S, poisoned), start_s, DAY)
    np.testing.assert_array_equal(a.values, b.values)


def test_a_weather_services_index_replaces_the_climatology_it_decays_to() -> None:
    history = _pv_history(14, 5.0, [1.0] * 14)  # two sunny weeks
    start_s = history.end_s
    overcast = Series(start_s, STEP_S, np.full(2 * DAY, 0.2))  # the provider: overcast
    plain = _forecaster(index_decay_h=6.0).forecast(history, start_s, 2 * DAY).values
    served = _forecaster(index_decay_h=6.0)
    served.index_forecast = overcast
    told = served.forecast(history, start_s, 2 * DAY).values
    # The second day (far past the decay): the provider's index, not the sunny weeks'.
    assert told[DAY:].sum() == pytest.approx(0.2 * plain[DAY:].sum(), rel=0.02)
    # A provider's values outside 0..1.2 are clipped; steps it does not cover use the
    # climatology.
    served.index_forecast = Series(start_s, STEP_S, np.full(DAY, 5.0))
    clipped = served.forecast(history, start_s, 2 * DAY).values
    assert clipped[:DAY].max() <= 1.2 * plain[:DAY].max() + 1e-6
    np.testing.assert_allclose(clipped[DAY:], plain[DAY:])


def test_a_grey_morning_is_forecast_from_its_own_first_hour_not_yesterdays_sun() -> None:
    days = _pv_history(14, 5.0, [1.0] * 14)  # a sunny fortnight; today has begun grey
    clear = ClearSky(SITE, ARRAY, STEP_S)
    start_s = days.end_s - DAY * STEP_S + 6 * 3600.0  # today 06:00 UTC
    # The sun rose (50 W/m² on the array) five steps before: fewer than the eight
    # steps the index is measured over, so yesterday's evening would fill the rest.
    assert (clear.poa_w_m2(start_s - 5 * STEP_S, 5) >= 50.0).all()
    assert clear.poa_w_m2(start_s - 6 * STEP_S, 1)[0] < 50.0
    today = round((start_s - START_S) / STEP_S)
    values = days.values[:today].copy()
    values[today - 6 * 4 :] *= 0.3
    out = _forecaster().forecast(Series(START_S, STEP_S, values), start_s, 8).values
    expected = clear.poa_w_m2(start_s, 8) * 5.0
    # The morning's index 0.3, decaying toward the fortnight's ~1 with 24 h e-folding.
    np.testing.assert_allclose(out / expected, 0.33, atol=0.03)
