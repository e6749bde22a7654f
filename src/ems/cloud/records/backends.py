"""Which durable store the records use: the same choice telemetry makes (DESIGN section 2)."""

from __future__ import annotations

from pathlib import Path

from ems.cloud.records.model import CommandStore
from ems.cloud.records.postgres import PostgresCommandStore
from ems.cloud.records.sqlite import SqliteCommandStore

__all__ = ["SQLITE_FILE", "command_store"]

#: The embedded store's file name in the data directory.
SQLITE_FILE = "commands.sqlite3"


def command_store(database_url: str | None, data_dir: Path) -> CommandStore:
    """PostgreSQL at ``database_url`` when set, else a SQLite file in ``data_dir``."""
    if database_url:
        return PostgresCommandStore(database_url)
    return SqliteCommandStore(data_dir / SQLITE_FILE)
