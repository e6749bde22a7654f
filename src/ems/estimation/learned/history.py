"""The learned estimator's own record of the battery: one row per minute, bounded.

Why its own, not the edge's telemetry buffer: that buffer holds frames only
until the cloud acknowledges them (an edge that is online keeps almost
nothing), keeps every channel of the site, and is the uplink's to trim. The
model needs weeks of five numbers a minute: about 4 MB for 60 days in float64,
kept in memory, saved beside the model at each retraining and read back at start
so a restart does not forget what it had learned from.

Each row: the minute's start [s], the mean terminal voltage [V], current [A,
> 0 discharging] and temperature [°C] of the samples in it, the EKF's SOC
[%] at its last sample (the learned model is validated against it), and the
BMS's charge limit [W] (the smallest in the minute; NaN when it reports none):
a limit closed after a charge means the BMS calls the pack full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["COLUMNS", "History", "MinuteHistory"]

Array = npt.NDArray[np.float64]
COLUMNS = ("t_s", "voltage_v", "current_a", "temperature_c", "ekf_soc_pct", "charge_limit_w")
MINUTE_S = 60.0
_FIRST_ROWS = 1440


@dataclass(frozen=True, slots=True)
class History:
    """Chronological minute rows (each array of the same length); see the module doc."""

    t_s: Array
    voltage_v: Array
    current_a: Array
    temperature_c: Array
    ekf_soc_pct: Array
    charge_limit_w: Array

    def __len__(self) -> int:
        return len(self.t_s)

    def save(self, path: Path) -> None:
        """Written beside and renamed over ``path``: a crash leaves the old file whole."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(f, **{c: getattr(self, c) for c in COLUMNS})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> History:
        with np.load(path) as data:
            arrays = [np.asarray(data[c], dtype=np.float64) for c in COLUMNS]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"{path.name}: columns of different lengths")
        return cls(*arrays)


class MinuteHistory:
    """Samples in, minute rows out; the oldest rows fall off beyond ``capacity_min``."""

    def __init__(self, capacity_min: int) -> None:
        self._capacity = capacity_min
        # Grown as it fills (a day to start): a new edge does not carry 60 empty days.
        self._rows = np.full((min(capacity_min, _FIRST_ROWS), len(COLUMNS)), math.nan)
        self._next = 0  # where the next row goes (a ring)
        self._count = 0
        self._minute: float | None = None  # start of the minute being summed [s]
        self._sums = [0.0, 0.0, 0.0]
        self._n = 0
        self._ekf_soc_pct = math.nan
        self._charge_limit_w = math.nan

    def __len__(self) -> int:
        return self._count

    def add(
        self,
        ts: float,
        voltage_v: float,
        current_a: float,
        temperature_c: float,
        ekf_soc_pct: float,
        charge_limit_w: float | None = None,
    ) -> bool:
        """Take one sample; True when it closed the previous minute (a row was added)."""
        minute = math.floor(ts / MINUTE_S) * MINUTE_S
        closed = False
        if self._minute is not None and minute != self._minute:
            closed = self._close()
        if self._minute != minute:
            self._minute, self._sums, self._n = minute, [0.0, 0.0, 0.0], 0
            self._charge_limit_w = math.nan
        self._sums[0] += voltage_v
        self._sums[1] += current_a
        self._sums[2] += temperature_c
        self._n += 1
        self._ekf_soc_pct = ekf_soc_pct
        if charge_limit_w is not None and not charge_limit_w >= self._charge_limit_w:
            self._charge_limit_w = charge_limit_w  # the smallest (NaN compares false)
        return closed

    def _close(self) -> bool:
        if self._n == 0 or self._minute is None:
            return False
        if self._count == len(self._rows) < self._capacity:  # full, not yet wrapping
            more = min(len(self._rows), self._capacity - len(self._rows))
            self._rows = np.concatenate([self._rows, np.full((more, len(COLUMNS)), math.nan)])
            self._next = self._count
        n = float(self._n)
        row = (self._minute, *(s / n for s in self._sums), self._ekf_soc_pct, self._charge_limit_w)
        self._rows[self._next] = row
        self._next = (self._next + 1) % len(self._rows)
        self._count = min(self._count + 1, self._capacity)
        return True

    def history(self) -> History:
        """A copy of the rows, oldest first."""
        if self._count < len(self._rows):
            rows = self._rows[: self._count].copy()
        else:
            rows = np.concatenate([self._rows[self._next :], self._rows[: self._next]])
        return History(*(np.ascontiguousarray(rows[:, k]) for k in range(len(COLUMNS))))

    def last(self, minutes: int) -> History:
        """The last ``minutes`` rows (fewer if it has fewer), oldest first."""
        n = min(minutes, self._count)
        idx = (self._next - n + np.arange(n)) % len(self._rows)
        rows = self._rows[idx]
        return History(*(np.ascontiguousarray(rows[:, k]) for k in range(len(COLUMNS))))

    def restore(self, history: History) -> None:
        """Start from a saved history (its newest rows, if more than fit)."""
        n = min(len(history), self._capacity)
        self._rows = np.full((max(n, min(self._capacity, _FIRST_ROWS)), len(COLUMNS)), math.nan)
        if n:
            self._rows[:n] = np.stack([getattr(history, c)[-n:] for c in COLUMNS], axis=1)
        self._count = n
        self._next = n % len(self._rows)
