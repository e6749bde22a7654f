"""What every telemetry store stores and answers: rows, latest values, bucketed history.

Times are UTC epoch seconds (``float``) throughout the interface; each backend
keeps its own column type (REAL in SQLite, ``timestamptz`` in PostgreSQL,
microsecond resolution). Values are in the channel's own unit (W, Wh, %, …,
DESIGN section 3); booleans are stored as 0/1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = ["HistoryPoint", "LatestValue", "Row", "TelemetryRow", "TelemetryStore"]

#: A row as the stores take it: ``(time_s, edge_id, channel, value, text)``. The
#: ingest path builds plain tuples (a ``NamedTuple`` costs several times as much
#: to make, at 100,000 rows a second), so stores read rows by position.
Row = tuple[float, str, str, float | None, str | None]


class TelemetryRow(NamedTuple):
    """One channel sample. Exactly one of ``value`` and ``text`` is set in practice."""

    time_s: float  # UTC epoch seconds of the sample (the edge's timestamp)
    edge_id: str
    channel: str  # ``device/Channel``
    value: float | None  # numbers, and booleans as 0.0/1.0
    text: str | None  # string-valued channels (modes, states)


class LatestValue(NamedTuple):
    """The newest sample of one channel."""

    time_s: float
    value: float | None
    text: str | None


class HistoryPoint(NamedTuple):
    """One time bucket of one channel.

    ``avg``/``min``/``max`` aggregate the numeric samples in the bucket (``None``
    when it holds only text); ``last_text`` is the newest text sample in the
    bucket (``None`` when it holds only numbers). Buckets without samples are
    not returned, so a chart shows gaps where the edge was silent.
    """

    time_s: float  # bucket start, UTC epoch seconds, a multiple of the bucket width
    avg: float | None
    min: float | None
    max: float | None
    last_text: str | None


class TelemetryStore(Protocol):
    """Narrow history table plus a latest-value table; see the backends for storage details."""

    async def start(self) -> None:
        """Open the store and create or upgrade its schema. Idempotent; call on every start."""

    async def close(self) -> None:
        """Release connections and threads. The store is unusable afterwards."""

    async def write(self, rows: Sequence[Row]) -> None:
        """Store ``rows`` durably, all or nothing, before returning.

        A row already stored (same edge, channel and time, e.g. a frame re-sent
        after a reconnect) is ignored: the first row written for a time wins.
        The latest value of a channel only moves forward in time: only a
        strictly newer row replaces it.
        """

    async def latest(
        self, edge_id: str, channels: Sequence[str] | None = None
    ) -> dict[str, LatestValue]:
        """Newest value of each channel of ``edge_id`` (all channels when ``None``).

        Channels never written are absent from the result.
        """

    async def history(
        self,
        edge_id: str,
        channels: Sequence[str],
        start_s: float,
        end_s: float,
        max_points: int = 500,
    ) -> dict[str, list[HistoryPoint]]:
        """Samples with ``start_s <= time < end_s``, bucketed to at most ``max_points`` per channel.

        Buckets are epoch-aligned, a whole number of seconds wide (see
        :func:`ems.cloud.telemetry.buckets.bucket_width_s`). Every requested
        channel is a key of the result; one without samples maps to ``[]``.
        Points are in time order.
        """

    async def edges(self) -> list[str]:
        """Ids of edges that have sent any telemetry, sorted."""
