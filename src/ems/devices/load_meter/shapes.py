"""Relative daily consumption shapes by hour of local wall-clock time.

Each table holds the relative demand at ``hh:00`` for hh = 0..23; between hours
the shape is linear, and hour 24 wraps to hour 0 of the same table. Only the
ratios matter: the simulator rescales them to the configured annual energy.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SHAPES", "shape_at", "weekly_mean"]

# (weekday table, weekend table) per profile.
# fmt: off
SHAPES: Final[dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
    # Low night base (fridge, standby), a morning peak before work and the
    # highest peak in the evening (cooking, lighting, entertainment).
    "residential": (
        (0.45, 0.40, 0.38, 0.37, 0.38, 0.45, 0.75, 1.05, 0.95, 0.75, 0.70, 0.72,
         0.80, 0.75, 0.70, 0.72, 0.85, 1.15, 1.50, 1.65, 1.55, 1.30, 0.95, 0.65),
        # Weekends: later, broader morning and people at home around midday.
        (0.50, 0.42, 0.39, 0.37, 0.37, 0.40, 0.48, 0.65, 0.95, 1.15, 1.15, 1.15,
         1.20, 1.05, 0.95, 0.95, 1.00, 1.20, 1.50, 1.60, 1.50, 1.30, 1.00, 0.70),
    ),
    # Office: a plateau during working hours, a base load (servers, standby) otherwise.
    "commercial": (
        (0.35, 0.35, 0.35, 0.35, 0.35, 0.40, 0.60, 1.10, 1.60, 1.80, 1.85, 1.85,
         1.75, 1.80, 1.85, 1.80, 1.70, 1.40, 0.95, 0.65, 0.50, 0.42, 0.38, 0.36),
        (0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.36, 0.38, 0.40, 0.42, 0.42, 0.42,
         0.42, 0.42, 0.42, 0.40, 0.38, 0.37, 0.36, 0.36, 0.35, 0.35, 0.35, 0.35),
    ),
}
# fmt: on


def shape_at(table: tuple[float, ...], hour: float) -> float:
    """The shape at local wall-clock ``hour`` (0..24), linear between whole hours."""
    h = min(max(hour, 0.0), 24.0)
    i = min(int(h), 23)
    a = table[i]
    b = table[(i + 1) % 24]
    return a + (b - a) * (h - i)


def weekly_mean(profile: str) -> float:
    """Mean of the shape over a week of 5 weekdays and 2 weekend days.

    The piecewise-linear shape wraps at midnight, so its mean over a day is
    exactly the mean of its 24 hourly values.
    """
    weekday, weekend = SHAPES[profile]
    return (5.0 * sum(weekday) / 24.0 + 2.0 * sum(weekend) / 24.0) / 7.0
