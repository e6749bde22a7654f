"""How far this edge's clock is from the cloud's, and what that means for deadlines.

The cloud stamps ``server_time`` into ``auth_ok`` and into every
``clock_pong``. The edge sent its request at ``t0`` and got the answer at
``t1`` (its own clock); the server stamped somewhere in between, so the best
estimate is ``offset = server_time - (t0 + t1) / 2`` (cloud minus edge), off
by at most half the round trip, the *uncertainty*.

A command's ``deadline`` is the cloud's watchdog moment in the cloud's time
(DESIGN section 4). In this edge's time it is ``deadline - offset``; the edge
stops writing or applying the command ``margin + uncertainty`` before that,
so a command the cloud already reported as ``edge_timeout`` is never carried
out, however the clocks disagree, as long as the offset is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClockSample", "ClockSync"]


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One measurement [s]: ``offset_s`` cloud minus edge, ``uncertainty_s`` half the round trip."""

    offset_s: float
    uncertainty_s: float


class ClockSync:
    """The latest offset measurement, shared by the link (writer) and the deadline checks.

    Before the first measurement the edge trusts its own clock (offset 0,
    uncertainty 0): the configured margin is all there is.
    """

    def __init__(self) -> None:
        self.offset_s = 0.0
        self.uncertainty_s = 0.0
        self.measured = False

    @staticmethod
    def sample(sent_s: float, server_s: float, received_s: float) -> ClockSample:
        """The offset from a request sent at ``sent_s`` and answered at ``received_s``
        (edge clock) that the cloud stamped ``server_s`` (cloud clock)."""
        round_trip_s = max(0.0, received_s - sent_s)
        return ClockSample(server_s - (sent_s + received_s) / 2.0, round_trip_s / 2.0)

    def update(self, sample: ClockSample) -> None:
        # Two attribute writes, read on the same event loop: no lock needed.
        self.offset_s = sample.offset_s
        self.uncertainty_s = sample.uncertainty_s
        self.measured = True

    def to_local(self, cloud_s: float) -> float:
        """A cloud time [UTC epoch s] on this edge's clock."""
        return cloud_s - self.offset_s

    def past_deadline(self, now_s: float, deadline_s: float, margin_s: float) -> bool:
        """Whether ``now_s`` (edge clock) is past the cloud ``deadline_s`` less the margin
        [s] and less the offset's uncertainty."""
        return now_s > self.to_local(deadline_s) - margin_s - self.uncertainty_s
