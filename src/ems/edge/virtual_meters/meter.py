"""Virtual meters evaluated on a cycle's snapshot.

A value is stamped with the timestamp of its oldest input, so a meter fed by a
stale channel is itself stale by as much and a controller's or the cloud's
staleness checks see through it. A missing input (never set, no value, not a
finite number) makes the meter's value missing (``None``), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ems.dal import Category, ChannelStore, Sample, Snapshot
from ems.edge.virtual_meters.plan import MeterPlan

__all__ = ["VirtualMeters"]


class VirtualMeters:
    def __init__(self, plans: Sequence[MeterPlan]) -> None:
        """``plans`` in evaluation order, as :func:`~ems.edge.virtual_meters.plan_meters` gives."""
        self.plans = tuple(plans)

    def declare(self, store: ChannelStore) -> None:
        for plan in self.plans:
            store.declare(plan.address, Category.INPUT, plan.unit)

    def compute(self, snapshot: Snapshot) -> dict[str, Sample]:
        """Every meter's sample; a missing one is ``Sample(None, snapshot.taken_at)``."""
        out: dict[str, Sample] = {}
        for plan in self.plans:
            out[plan.address] = _evaluate(plan, snapshot, out) or Sample(None, snapshot.taken_at)
        return out


def _evaluate(plan: MeterPlan, snapshot: Snapshot, computed: Mapping[str, Sample]) -> Sample | None:
    total = 0.0
    oldest = math.inf
    for sign, addresses in ((1.0, plan.plus), (-1.0, plan.minus)):
        for address in addresses:
            sample = computed.get(address) or snapshot.get(address)
            value = None if sample is None else _number(sample.value)
            if value is None or sample is None:
                return None
            total += sign * value
            oldest = min(oldest, sample.ts)
    value = plan.factor * total + plan.offset
    if not math.isfinite(value):
        return None
    return Sample(value, oldest)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
