"""Reference SOC points in a battery's history, and dense labels between them.

A reference (an *anchor*) is a rest long enough that the terminal voltage is
the open-circuit voltage (``rest_s`` at no more than ``rest_current_c``),
inverted through the chemistry's OCV curve at the cell temperature, with the
hysteresis taken off on the side the last current left it (Plett's model, see
:mod:`ems.cells.chemistry`: after a discharge the OCV sits ``hysteresis_v``
below the mean curve, after a charge above). A rest is only a reference where
the curve is steep enough: ``cell_voltage_error_v`` over the curve's slope
there must be at most ``anchor_max_std_pct`` of SOC. On LFP that leaves the
ends of the curve (after the BMS stopped discharging an empty pack); on NMC
almost every rest counts.

A full charge is the other reference: the BMS closes its charge limit
(``MaxChargePower`` 0) after a charge. The pack is then at ``full_soc_pct``
whatever its voltage, which on LFP's plateau says little. Two references
closer than ``rest_s`` are one: the surer is kept.

Between two anchors no further apart than ``max_segment_s`` the label is the
coulomb count from the first, with the pack's capacity and the sensor's bias
fitted to all pairs of anchors at once (:func:`fit_pack`), and what drift is
left at the second anchor removed linearly in time. A capacity taken from the
nameplate would bend every label between two anchors by its error times the
charge moved (2 % of capacity is 1.5 points at the bottom of a night's discharge).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ems.cells import Chemistry
from ems.estimation.learned.history import MINUTE_S, History

__all__ = ["Anchor", "Labels", "find_anchors", "label_history"]

Array = npt.NDArray[np.float64]
_VOLTAGE_AVERAGE_MIN = 5  # the rest's last minutes, averaged
_CLOSED_W = 1.0  # a charge limit at or below this is closed
_FULL_STD_PCT = 0.5  # how exactly a BMS's "full" repeats
_PRIOR_CAPACITY_STD = 0.1  # the pack within 10 % of its nameplate, 1 sigma
_PRIOR_BIAS_STD_A = 2.0


@dataclass(frozen=True, slots=True)
class Anchor:
    index: int  # row of the history
    soc_pct: float
    std_pct: float


@dataclass(frozen=True, slots=True)
class Labels:
    """Per history row: the reconstructed SOC [%] (NaN: unlabelled) and its segment (-1: none)."""

    soc_pct: Array
    segment: npt.NDArray[np.int64]
    anchors: list[Anchor]
    capacity_ah: float  # fitted to the anchors
    bias_a: float

    @property
    def segments(self) -> int:
        return int(self.segment.max()) + 1 if len(self.segment) else 0


@dataclass(frozen=True, slots=True)
class AnchorRules:
    """What makes a rest a reference (the ``LearnedConfig`` fields of the same names)."""

    chem: Chemistry
    series_cells: int
    capacity_ah: float
    rest_s: float
    rest_current_c: float
    cell_voltage_error_v: float
    anchor_max_std_pct: float
    max_segment_s: float
    full_soc_pct: float = 100.0


def _ocv_to_soc(chem: Chemistry, cell_v: float, temperature_c: float) -> float:
    mean_curve_v = cell_v - chem.docv_dt_v_per_k * (temperature_c - 25.0)
    return float(np.interp(mean_curve_v, chem.ocv_points_v, chem.soc_points))


def find_anchors(history: History, rules: AnchorRules) -> list[Anchor]:
    """Rests where the OCV curve is steep and full charges, oldest first."""
    found = sorted(
        [*_rest_anchors(history, rules), *_full_anchors(history, rules)], key=lambda a: a.index
    )
    merged: list[Anchor] = []
    close_rows = rules.rest_s / MINUTE_S
    for anchor in found:
        if merged and anchor.index - merged[-1].index < close_rows:
            if anchor.std_pct < merged[-1].std_pct:
                merged[-1] = anchor
            continue
        merged.append(anchor)
    return merged


def _runs(mask: npt.NDArray[np.bool_], t_s: Array) -> list[tuple[int, int]]:
    """(first, last) rows of each unbroken run of True in ``mask``."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for k in range(len(mask) + 1):
        continuing = (
            k < len(mask)
            and bool(mask[k])
            and (start is None or t_s[k] - t_s[k - 1] <= MINUTE_S + 1e-6)
        )
        if continuing:
            start = k if start is None else start
            continue
        if start is not None:
            runs.append((start, k - 1))
        start = k if k < len(mask) and bool(mask[k]) else None
    return runs


def _full_anchors(history: History, rules: AnchorRules) -> list[Anchor]:
    closed = history.charge_limit_w <= _CLOSED_W  # NaN (no limit reported) is never closed
    moving = np.abs(history.current_a) > rules.rest_current_c * rules.capacity_ah
    anchors = []
    for first, last in _runs(closed, history.t_s):
        before = np.nonzero(moving[:first])[0]
        if len(before) and history.current_a[before[-1]] < 0:  # charged into it
            anchors.append(Anchor(last, rules.full_soc_pct, _FULL_STD_PCT))
    return anchors


def _rest_anchors(history: History, rules: AnchorRules) -> list[Anchor]:
    current = history.current_a
    resting = np.abs(current) <= rules.rest_current_c * rules.capacity_ah
    need = int(np.ceil(rules.rest_s / MINUTE_S))
    anchors = []
    for first, last in _runs(resting, history.t_s):
        if last - first + 1 >= need:
            anchor = _anchor_of_rest(history, rules, resting, first, last)
            if anchor is not None:
                anchors.append(anchor)
    return anchors


def _anchor_of_rest(
    history: History, rules: AnchorRules, resting: npt.NDArray[np.bool_], first: int, last: int
) -> Anchor | None:
    chem = rules.chem
    tail = slice(max(first, last - _VOLTAGE_AVERAGE_MIN + 1), last + 1)
    cell_v = float(np.mean(history.voltage_v[tail])) / rules.series_cells
    temperature_c = float(np.mean(history.temperature_c[tail]))
    moving = np.nonzero(~resting[:first])[0]
    if len(moving) == 0:
        return None  # which side of the hysteresis it rests on is unknown
    discharged = history.current_a[moving[-1]] > 0
    cell_v += chem.hysteresis_v if discharged else -chem.hysteresis_v
    soc = _ocv_to_soc(chem, cell_v, temperature_c)
    slope_v = chem.docv_dsoc_v(min(max(soc, 1e-6), 1.0 - 1e-6))
    std_pct = 100.0 * rules.cell_voltage_error_v / slope_v
    if std_pct > rules.anchor_max_std_pct:
        return None
    return Anchor(last, 100.0 * soc, std_pct)


def _pairs(
    history: History, anchors: list[Anchor], rules: AnchorRules
) -> list[tuple[Anchor, Anchor]]:
    """Consecutive anchors close enough, with no gap in the minutes between them."""
    pairs = []
    for a, b in itertools.pairwise(anchors):
        span_s = history.t_s[b.index] - history.t_s[a.index]
        unbroken = np.all(np.diff(history.t_s[a.index : b.index + 1]) <= MINUTE_S + 1e-6)
        if 0 < span_s <= rules.max_segment_s and unbroken:
            pairs.append((a, b))
    return pairs


def fit_pack(
    history: History, pairs: list[tuple[Anchor, Anchor]], capacity_ah: float
) -> tuple[float, float]:
    """The capacity [Ah] and the current sensor's bias [A] that best explain how far the
    count moved between references: ``ΔSOC = -(∫I dt - bias·Δt) / capacity`` for every
    pair, a linear least-squares problem in 1/capacity and bias/capacity. Weak priors
    (the nameplate, no bias) hold what the pairs cannot tell apart: between two full
    charges, a capacity error and a bias look alike."""
    rows: list[list[float]] = []
    rhs: list[float] = []
    for a, b in pairs:
        moved_ah = float(np.sum(history.current_a[a.index + 1 : b.index + 1])) * MINUTE_S / 3600
        span_h = (history.t_s[b.index] - history.t_s[a.index]) / 3600.0
        weight = 1.0 / max(math.hypot(a.std_pct, b.std_pct) / 100.0, 1e-3)
        # Unknowns: inverse capacity factor u (nameplate / capacity), bias [A].
        rows.append([-moved_ah / capacity_ah * weight, span_h / capacity_ah * weight])
        rhs.append((b.soc_pct - a.soc_pct) / 100.0 * weight)
    rows += [[1.0 / _PRIOR_CAPACITY_STD, 0.0], [0.0, 1.0 / _PRIOR_BIAS_STD_A]]
    rhs += [1.0 / _PRIOR_CAPACITY_STD, 0.0]
    (u, bias_a), *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    u = min(max(float(u), 0.5), 2.0)  # a pack at half or twice its nameplate is a wrong fit
    return capacity_ah / u, float(bias_a)


def label_history(history: History, rules: AnchorRules) -> Labels:
    """Anchors, and between each close, unbroken pair the count with the fitted capacity and
    bias (:func:`fit_pack`), its remaining drift removed linearly in time."""
    n = len(history)
    labels = np.full(n, np.nan)
    segment = np.full(n, -1, dtype=np.int64)
    anchors = find_anchors(history, rules)
    pairs = _pairs(history, anchors, rules)
    capacity_ah, bias_a = fit_pack(history, pairs, rules.capacity_ah)
    # SOC [%] moved by each minute's mean current (> 0 discharging lowers it).
    step_pct = -(history.current_a - bias_a) * MINUTE_S / (36.0 * capacity_ah)
    count_pct = np.concatenate([[0.0], np.cumsum(step_pct[1:])])
    for seg, (a, b) in enumerate(pairs):
        rows = slice(a.index, b.index + 1)
        counted = a.soc_pct + count_pct[rows] - count_pct[a.index]
        drift_pct = b.soc_pct - counted[-1]
        share = (history.t_s[rows] - history.t_s[a.index]) / (
            history.t_s[b.index] - history.t_s[a.index]
        )
        labels[rows] = np.clip(counted + drift_pct * share, 0.0, 100.0)
        segment[rows] = seg
    return Labels(labels, segment, anchors, capacity_ah, bias_a)
