"""Telemetry storage: a narrow history table plus latest values, in SQLite or PostgreSQL.

``SqliteTelemetryStore`` is the embedded default, ``PostgresTelemetryStore`` the
production backend (TimescaleDB when available, else native daily partitions);
both satisfy :class:`TelemetryStore`. ``TelemetryBatcher`` groups the writes of
many edges and tells each when its rows are durable (then the cloud may send
``telemetry_ack``). ``rows_from_frame`` turns a telemetry frame's channels into rows.
"""

from ems.cloud.telemetry.batcher import BatcherStats, TelemetryBatcher
from ems.cloud.telemetry.buckets import bucket_width_s
from ems.cloud.telemetry.convert import SampleLike, rows_from_frame
from ems.cloud.telemetry.ingest import IngestFrame, TelemetryDecoder
from ems.cloud.telemetry.model import HistoryPoint, LatestValue, Row, TelemetryRow, TelemetryStore
from ems.cloud.telemetry.postgres import PostgresTelemetryStore
from ems.cloud.telemetry.sqlite import SqliteTelemetryStore

__all__ = [
    "BatcherStats",
    "HistoryPoint",
    "IngestFrame",
    "LatestValue",
    "PostgresTelemetryStore",
    "Row",
    "SampleLike",
    "SqliteTelemetryStore",
    "TelemetryBatcher",
    "TelemetryDecoder",
    "TelemetryRow",
    "TelemetryStore",
    "bucket_width_s",
    "rows_from_frame",
]
