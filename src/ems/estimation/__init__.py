"""Battery state estimation on the edge (DESIGN §17): ``estimator:`` on a battery device.

:mod:`ems.estimation.config` is light (the edge YAML's schema); the filter
(:mod:`ems.estimation.ekf`, numpy) is imported only when a device has an estimator.
"""

from ems.estimation.config import EkfConfig, EstimatorConfig, LearnedConfig

__all__ = ["EkfConfig", "EstimatorConfig", "LearnedConfig"]
