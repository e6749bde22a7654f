"""Forecasts of a site's load and PV, 24 h ahead at 15 min: what the optimiser plans with.

:mod:`ems.forecast.base` is the contract every forecaster meets; each kind of
forecast (persistence, PV from pvlib, a model learned from the site's own
history, the perfect forecast of a replayed data set) is a module of its own.
"""

from ems.forecast.base import STEP_S, Forecaster, Series

__all__ = ["STEP_S", "Forecaster", "Series"]
