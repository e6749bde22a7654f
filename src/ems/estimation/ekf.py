"""SOC by an extended Kalman filter over the pack's equivalent circuit.

State ``x = [soc, v1, v2, h, r, b, c]``: SOC (fraction), the two RC voltages [V],
the OCV's hysteresis [V], the pack's resistance as a multiple ``r`` of the
datasheet's (cells differ from it and age: on an LFP plateau a 10 % error in R0
would pass for several % of SOC) and the current sensor's bias [A]. Input: the
measured current ``i_m`` (> 0 discharging), so the cells carry ``i = i_m - b``.
Over a step ``dt`` of constant current (the RC pairs solved exactly):

    soc' = soc - i·dt / (3600·c·Q)
    v_k' = a_k·v_k + (1 - a_k)·r·R_k·i      a_k = exp(-dt / tau_k)
    h'   = a_h·h + (1 - a_h)·(-M·sign(i))   a_h = exp(-gamma·|i|·dt / (3600·Q))
    r'   = r,  b' = b,  c' = c

Measurement: the terminal voltage ``V = OCV(soc, T) + h - v1 - v2 - r·R0·i``,
whose Jacobian is ``H = [dOCV/dsoc, -1, -1, 1, -R0·i, r·R0, 0]``. On an LFP
plateau ``dOCV/dsoc`` is about 17 mV per % for a 16-cell pack, so each voltage
says little and the filter leans on the (bias-corrected) count; near the ends
of the curve it learns fast. A voltage far outside the predicted spread
(``gate_sigma``) is taken for a glitch and skipped, but never for long
(``max_rejections``): a filter that is itself wrong must not refuse the truth
forever.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ems.cells import EcmState, PackModel, chemistry
from ems.estimation.config import EkfConfig

__all__ = ["SocEkf"]

Array = npt.NDArray[np.float64]

_MIN_CAPACITY_FACTOR = 0.3  # a pack below 30 % of nameplate is no longer in service
_N = 7
_R, _B, _C = 4, 5, 6  # indices of the resistance multiple, the bias, the capacity multiple


class SocEkf:
    """One battery's filter. Not thread-safe: one owner steps it."""

    def __init__(self, config: EkfConfig, initial_soc_pct: float) -> None:
        chem = chemistry(config.chemistry)
        cells = config.cells_in_series
        self.config = config
        self.pack = PackModel(chem, cells, config.capacity_wh / (cells * chem.nominal_cell_v))
        self._growth = config.resistance_growth_pct / 100.0
        self.x: Array = np.array([initial_soc_pct / 100.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0])
        bias_var = config.initial_bias_std_a**2 if config.estimate_bias else 0.0
        soc_var = (config.initial_soc_std_pct / 100.0) ** 2
        # Hysteresis unknown at start: anywhere within +-M (uniform: variance M²/3).
        h_var = self.pack.hysteresis_v**2 / 3.0
        r_var = (config.initial_resistance_std_pct / 100.0) ** 2
        c_var = (config.initial_capacity_std_pct / 100.0) ** 2
        self.p: Array = np.diag([soc_var, 1e-4, 1e-4, h_var, r_var, bias_var, c_var])
        self.rejections = 0  # in a row
        self.rejected_total = 0

    @property
    def soc_pct(self) -> float:
        return float(self.x[0]) * 100.0

    @property
    def soc_std_pct(self) -> float:
        return math.sqrt(max(float(self.p[0, 0]), 0.0)) * 100.0

    @property
    def resistance_factor(self) -> float:
        """The pack's resistance as the filter sees it, as a multiple of the configured one."""
        return float(self.x[_R])

    def r0_ohm(self, temperature_c: float = 25.0) -> float:
        """Series resistance the filter sees, at ``temperature_c`` [ohm]."""
        return self.pack.r0_ohm(temperature_c, self._growth) * self.resistance_factor

    @property
    def capacity_factor(self) -> float:
        """The pack's capacity as the filter sees it, as a multiple of the configured one."""
        return float(self.x[_C])

    @property
    def bias_a(self) -> float:
        return float(self.x[_B])

    def predict(self, measured_a: float, dt_s: float, temperature_c: float) -> None:
        """Carry the measured current ``measured_a`` for ``dt_s`` seconds."""
        cfg, pack = self.config, self.pack
        current_a = measured_a - float(self.x[_B])
        scale = float(self.x[_R])
        r1 = pack.r1_ohm(temperature_c, self._growth)
        r2 = pack.r2_ohm(temperature_c, self._growth)
        a1 = math.exp(-dt_s / pack.chem.tau1_s)
        a2 = math.exp(-dt_s / pack.chem.tau2_s)
        x = self.x
        capacity_ah = pack.capacity_ah * float(x[_C])
        per_a = dt_s / (3600.0 * capacity_ah)  # SOC moved by 1 A over the step
        state = EcmState(float(x[0]), float(x[1]), float(x[2]), float(x[3]))
        a_h = pack.hysteresis_decay(current_a, dt_s, capacity_ah)
        growth = (1.0 + self._growth) * scale - 1.0
        pack.advance(state, current_a, dt_s, temperature_c, capacity_ah, growth)
        x[0], x[1], x[2], x[3] = state.soc, state.v1_v, state.v2_v, state.h_v
        f = np.eye(_N)
        f[1, 1], f[2, 2], f[3, 3] = a1, a2, a_h
        f[1, _R], f[2, _R] = (1.0 - a1) * r1 * current_a, (1.0 - a2) * r2 * current_a
        f[0, _B], f[1, _B], f[2, _B] = per_a, -(1.0 - a1) * r1 * scale, -(1.0 - a2) * r2 * scale
        f[0, _C] = current_a * per_a / float(x[_C])
        if not cfg.estimate_bias:
            f[:, _B] = 0.0
        # The current's noise enters every state the current drives.
        g = np.zeros(_N)
        g[0], g[1], g[2] = -per_a, (1.0 - a1) * r1 * scale, (1.0 - a2) * r2 * scale
        q = np.diag(
            [
                cfg.soc_process_pct2_per_s * 1e-4,
                cfg.rc_process_v2_per_s,
                cfg.rc_process_v2_per_s,
                cfg.rc_process_v2_per_s,
                (cfg.resistance_walk_pct_per_sqrt_h / 100.0) ** 2 / 3600.0,
                cfg.bias_walk_a2_per_s if cfg.estimate_bias else 0.0,
                (cfg.capacity_walk_pct_per_sqrt_day / 100.0) ** 2 / 86_400.0,
            ]
        )
        self.p = f @ self.p @ f.T + q * dt_s + np.outer(g, g) * cfg.current_noise_a**2
        self.x[0] = min(max(float(self.x[0]), 0.0), 1.0)

    def update(self, voltage_v: float, measured_a: float, temperature_c: float) -> bool:
        """Correct with the terminal voltage measured while ``measured_a`` flowed.

        Returns False when the voltage was rejected as a glitch (see the module doc).
        """
        pack = self.pack
        soc = float(self.x[0])
        current_a = measured_a - float(self.x[_B])
        scale = float(self.x[_R])
        r0 = pack.r0_ohm(temperature_c, self._growth)
        x = self.x
        predicted_v = (
            pack.ocv_v(soc, temperature_c)
            + float(x[3])
            - float(x[1])
            - float(x[2])
            - scale * r0 * current_a
        )
        slope = pack.docv_dsoc_v(soc)
        bias_h = scale * r0 if self.config.estimate_bias else 0.0
        h = np.array([slope, -1.0, -1.0, 1.0, -r0 * current_a, bias_h, 0.0])
        noise_var = self.config.voltage_noise_v**2
        ph = self.p @ h
        s = float(h @ ph) + noise_var
        innovation = voltage_v - predicted_v
        if innovation * innovation > self.config.gate_sigma**2 * s:
            self.rejections += 1
            self.rejected_total += 1
            if self.rejections <= self.config.max_rejections:
                return False
        self.rejections = 0
        k = ph / s
        self.x = self.x + k * innovation
        # Joseph form: stays symmetric and positive definite in float arithmetic.
        a = np.eye(_N) - np.outer(k, h)
        self.p = a @ self.p @ a.T + np.outer(k, k) * noise_var
        self.x[0] = min(max(float(self.x[0]), 0.0), 1.0)
        self.x[_C] = max(float(self.x[_C]), _MIN_CAPACITY_FACTOR)
        return True
