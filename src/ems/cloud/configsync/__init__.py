"""Config sync, the cloud's side (DESIGN 16): every edge's YAML, versioned and pushed."""

from __future__ import annotations

from pathlib import Path

from ems.cloud.configsync.postgres import PostgresConfigStore
from ems.cloud.configsync.schema import ConfigRefused, validate_edge_yaml
from ems.cloud.configsync.service import CONFIG_CHANNEL, ConfigSync
from ems.cloud.configsync.sqlite import SQLITE_FILE, SqliteConfigStore
from ems.cloud.configsync.store import ConfigStore, ConfigVersion

__all__ = [
    "CONFIG_CHANNEL",
    "ConfigRefused",
    "ConfigStore",
    "ConfigSync",
    "ConfigVersion",
    "PostgresConfigStore",
    "SqliteConfigStore",
    "config_store",
    "validate_edge_yaml",
]


def config_store(database_url: str | None, data_dir: Path) -> ConfigStore:
    """PostgreSQL at ``database_url`` when set, else a SQLite file in ``data_dir``."""
    if database_url:
        return PostgresConfigStore(database_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteConfigStore(data_dir / SQLITE_FILE)
