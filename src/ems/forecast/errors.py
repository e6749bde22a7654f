"""Errors of ``ems.forecast``: bad forecaster parameters, named by field."""

from __future__ import annotations

from ems.errors import ConfigError

__all__ = ["ForecastParamsError"]


class ForecastParamsError(ConfigError):
    """A forecaster's kind or parameters were refused.

    ``reason`` is a stable lower_snake code (``unknown_kind``, ``invalid_params``);
    ``field`` is the parameter named (``kind`` for an unknown kind, ``params.window_days``).
    """

    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")
