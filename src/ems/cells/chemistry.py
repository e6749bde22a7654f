"""Chemistry data: OCV curves and cell parameters of LFP and NMC cells.

OCV curves (25 °C, pseudo-OCV from a slow C/32 or C/20 cycle, average of charge
and discharge) are the piecewise-linear breakpoints published by Sunil,
Pattipati and Balasingam, "Piecewise Linear Approximation of Battery
Open-Circuit Voltage Characteristics Using Dynamic Programming", IEEE
Transactions on Instrumentation and Measurement, 2025 (data of their
github.com/soorajsunil/Piecewise-Battery-OCV):

- LFP: Lithium Werks APR18650M1B (LiFePO4/graphite). Between 30 % and 98 %
  SOC the OCV rises by 74 mV in all, about 1 mV per % SOC: the flat plateau
  that makes voltage-based estimation of LFP hard.
- NMC: Samsung INR21700-40T (NMC/graphite), a sloped curve (about 5-10 mV per %).

Entropic coefficients (dOCV/dT) are of the order reported by Viswanathan et
al., "Effect of entropy change of lithium intercalation in cathodes and
anodes on Li-ion battery thermal management", J. Power Sources 195 (2010)
3720-3729; taken constant over SOC here.

Hysteresis follows the one-state model of Plett, "Extended Kalman filtering
for battery management systems of LiPB-based HEV battery packs, Part 2",
J. Power Sources 134 (2004) 262-276: the OCV sits up to ``hysteresis_v`` above
the mean curve after charging and below it after discharging, moving between
the two over about ``1 / hysteresis_rate`` of SOC. LFP's gap between charge and
discharge OCV of about 20 mV per cell is the one measured by Dreyer et al.,
"The thermodynamic origin of hysteresis in insertion batteries", Nature
Materials 9 (2010) 448-453; NMC's is a few mV.

Resistances and RC time constants are representative of large-format cells
(DC resistance of a 100 Ah prismatic cell, diffusion time constants of tens
and hundreds of seconds), not of one datasheet; they scale inversely with
capacity. Ageing coefficients give the calendar and cycle life such cells are
sold with (LFP: 80 % after about 6,000 full cycles; NMC: after about 1,500),
square-root-of-time calendar fade of about 2 % (LFP) / 3 % (NMC) in the first
year at 25 °C.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["CHEMISTRIES", "Chemistry", "chemistry"]


@dataclass(frozen=True, slots=True)
class Chemistry:
    """One cell chemistry. Resistances are of a cell of ``ref_capacity_ah``, at 25 °C."""

    name: str
    soc_points: tuple[float, ...]  # fraction 0..1, ascending
    ocv_points_v: tuple[float, ...]  # cell OCV at each SOC point, 25 °C
    nominal_cell_v: float
    docv_dt_v_per_k: float  # entropic coefficient
    ref_capacity_ah: float
    r0_ohm: float
    r1_ohm: float
    tau1_s: float
    r2_ohm: float
    tau2_s: float
    activation_j_per_mol: float  # Arrhenius: resistance rises when cold
    calendar_fade_per_sqrt_day: float  # capacity fraction lost, x sqrt(days) at 25 °C
    cycle_fade_per_efc: float  # capacity fraction lost per equivalent full cycle
    resistance_growth_per_fade: float  # relative resistance rise per unit of capacity fade
    max_temperature_c: float  # the BMS's upper cell temperature limit
    hysteresis_v: float  # half the charge/discharge OCV gap of a cell
    hysteresis_rate: float  # per unit SOC moved
    default_series_cells: int  # for a ~51 V pack (a residential "48 V" battery)

    def ocv_v(self, soc: float, temperature_c: float = 25.0) -> float:
        """Cell OCV [V] at ``soc`` (fraction, clamped to 0..1) and ``temperature_c``."""
        return self._interp(soc) + self.docv_dt_v_per_k * (temperature_c - 25.0)

    def docv_dsoc_v(self, soc: float) -> float:
        """Slope of the cell OCV [V per unit SOC] at ``soc`` (of the segment it lies in)."""
        xs, ys = self.soc_points, self.ocv_points_v
        i = min(max(bisect_right(xs, soc) - 1, 0), len(xs) - 2)
        return (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])

    def _interp(self, soc: float) -> float:
        xs, ys = self.soc_points, self.ocv_points_v
        if soc <= xs[0]:
            return ys[0]
        if soc >= xs[-1]:
            return ys[-1]
        i = bisect_right(xs, soc) - 1
        return ys[i] + (ys[i + 1] - ys[i]) * (soc - xs[i]) / (xs[i + 1] - xs[i])


LFP = Chemistry(
    name="lfp",
    soc_points=(0.0, 0.0033, 0.0117, 0.0267, 0.0534, 0.0885, 0.2972, 0.9833, 0.9950, 1.0),
    ocv_points_v=(2.0102, 2.4177, 2.7405, 2.9299, 3.0872, 3.1942, 3.2772, 3.3511, 3.4180, 3.5981),
    nominal_cell_v=3.2,
    docv_dt_v_per_k=-0.1e-3,
    ref_capacity_ah=100.0,
    r0_ohm=0.6e-3,
    r1_ohm=0.3e-3,
    tau1_s=20.0,
    r2_ohm=0.3e-3,
    tau2_s=600.0,
    activation_j_per_mol=20_000.0,
    calendar_fade_per_sqrt_day=0.02 / 365.0**0.5,
    cycle_fade_per_efc=0.2 / 6000.0,
    resistance_growth_per_fade=2.0,
    max_temperature_c=55.0,
    hysteresis_v=0.010,
    hysteresis_rate=30.0,
    default_series_cells=16,
)

NMC = Chemistry(
    name="nmc",
    soc_points=(0.0, 0.0050, 0.0352, 0.0854, 0.1357, 0.2915, 0.4523, 0.8392, 0.9548, 1.0),
    ocv_points_v=(2.5000, 2.8080, 3.1179, 3.3182, 3.4193, 3.5826, 3.6941, 4.0664, 4.1121, 4.2000),
    nominal_cell_v=3.65,
    docv_dt_v_per_k=-0.2e-3,
    ref_capacity_ah=100.0,
    r0_ohm=0.8e-3,
    r1_ohm=0.4e-3,
    tau1_s=15.0,
    r2_ohm=0.4e-3,
    tau2_s=400.0,
    activation_j_per_mol=25_000.0,
    calendar_fade_per_sqrt_day=0.03 / 365.0**0.5,
    cycle_fade_per_efc=0.2 / 1500.0,
    resistance_growth_per_fade=2.5,
    max_temperature_c=50.0,
    hysteresis_v=0.003,
    hysteresis_rate=30.0,
    default_series_cells=14,
)

CHEMISTRIES: dict[str, Chemistry] = {c.name: c for c in (LFP, NMC)}


def chemistry(name: str) -> Chemistry:
    """The chemistry called ``name`` (``lfp`` or ``nmc``); ``ValueError`` naming the known ones."""
    try:
        return CHEMISTRIES[name]
    except KeyError:
        known = ", ".join(sorted(CHEMISTRIES))
        raise ValueError(f"unknown chemistry {name!r} (known: {known})") from None
