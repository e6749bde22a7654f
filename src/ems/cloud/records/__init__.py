"""Command records: every command's status history, hot in Redis and durable in the database.

DESIGN sections 4 and 5. The dispatcher reports each status change to
:meth:`Recorder.on_status` (one of ``Dispatcher.listeners``); the recorder
queues it and a background task writes it to :class:`HotRecords` (Redis,
shared by every cloud process, expiring after a day) and then to a
:class:`CommandStore` (``SqliteCommandStore`` by default,
``PostgresCommandStore`` with ``EMS_DATABASE_URL``). Reads
(``GET /api/commands…``, a reconnecting dashboard's catch-up) go through the
recorder, which merges the two copies.
"""

from ems.cloud.records.backends import SQLITE_FILE, command_store
from ems.cloud.records.intake import EdgeTraceIntake
from ems.cloud.records.model import (
    TERMINAL,
    CommandInfo,
    CommandRecord,
    CommandStore,
    StatusChange,
    StatusEvent,
    TraceEntry,
    merge_records,
    supersedes,
)
from ems.cloud.records.postgres import PostgresCommandStore
from ems.cloud.records.recent import RecentChanges
from ems.cloud.records.recorder import Recorder, RecorderStats
from ems.cloud.records.redis_hot import HotRecords, OpenCommand
from ems.cloud.records.sqlite import SqliteCommandStore

__all__ = [
    "SQLITE_FILE",
    "TERMINAL",
    "CommandInfo",
    "CommandRecord",
    "CommandStore",
    "EdgeTraceIntake",
    "HotRecords",
    "OpenCommand",
    "PostgresCommandStore",
    "RecentChanges",
    "Recorder",
    "RecorderStats",
    "SqliteCommandStore",
    "StatusChange",
    "StatusEvent",
    "TraceEntry",
    "command_store",
    "merge_records",
    "supersedes",
]
