"""Measured (driver) devices in the balance that a simulated grid meter closes.

A site may drive its battery and PV (``driver:``) and simulate its grid meter
(``make demo DEVICES=sunspec``). The real connection point would carry the real
devices' power, so the simulated one counts their measured ``ActivePower`` too,
read from the DAL each time it closes the balance, with the sign of the role
their profile has (:func:`~ems.devices.base.balance_role_of`), as a simulator's.

A measured power counts as 0 W once it cannot be trusted: ``CommunicationFailed``
is true, or the last reading is older than :data:`STALE_POLLS` poll periods.
The device's own watchdog drops a battery to idle when its controller stops
talking to it; for PV 0 W is a choice, not knowledge, and the stale channels
say so to anyone who looks. Then the grid meter shows the rest of the site
alone, as it did before the device was read at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ems.dal import Sample
from ems.devices.base import BalanceRole

__all__ = ["STALE_POLLS", "MeasuredDevice"]

#: A measured ``ActivePower`` older than this many of its driver's poll periods is
#: taken as 0 W: one late poll is jitter, three missed in a row is a dead link
#: (a poll that got no answer sets ``CommunicationFailed`` sooner, after its retries).
STALE_POLLS = 3


@dataclass(frozen=True, slots=True)
class MeasuredDevice:
    """A driver device whose ``ActivePower`` enters the simulated balance."""

    device_id: str
    role: BalanceRole
    max_age_s: float  # older readings count as 0 W

    @classmethod
    def polled(cls, device_id: str, role: BalanceRole, poll_s: float) -> MeasuredDevice:
        """A device read every ``poll_s`` seconds: stale after :data:`STALE_POLLS` of them."""
        return cls(device_id, role, STALE_POLLS * poll_s)

    def power_w(self, read: Callable[[str], Sample | None], now_s: float) -> float:
        """The measured ``ActivePower`` [W, the profile's sign], 0 W when stale or failed.

        ``read`` gives a channel's latest sample by address (the DAL's, or a
        reading about to be written with it).
        """
        failed = read(f"{self.device_id}/CommunicationFailed")
        if failed is not None and failed.value is True:
            return 0.0
        sample = read(f"{self.device_id}/ActivePower")
        if sample is None or isinstance(sample.value, bool):
            return 0.0
        if not isinstance(sample.value, int | float) or not math.isfinite(sample.value):
            return 0.0
        if now_s - sample.ts > self.max_age_s:
            return 0.0
        return float(sample.value)
