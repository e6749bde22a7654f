"""Subscriptions in PostgreSQL (``EMS_DATABASE_URL``), beside the alarm rules: the same
schema-version table and advisory lock, component ``report_subscriptions``."""

from __future__ import annotations

from pathlib import Path

from ems.cloud.pg_store import PostgresComponentStore
from ems.cloud.report_mail.model import Subscription
from ems.cloud.report_mail.store import (
    COLUMNS,
    SQLITE_FILE,
    SqliteSubscriptionStore,
    SubscriptionStore,
    subscription_from_row,
    subscription_row,
)

__all__ = ["PostgresSubscriptionStore", "subscription_store"]

COMPONENT = "report_subscriptions"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE report_subscriptions (
            subscription_id text COLLATE "C" PRIMARY KEY, edge_id text COLLATE "C" NOT NULL,
            period text NOT NULL, recipients text NOT NULL, created_by text NOT NULL,
            created_at double precision NOT NULL, period_first text NOT NULL,
            due double precision NOT NULL, status text NOT NULL, attempts integer NOT NULL,
            last_error text, last_sent_period text, last_sent_at double precision)""",
    ),
)

_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, COLUMNS.count(",") + 2))
_UPSERT = (
    f"INSERT INTO report_subscriptions ({COLUMNS}) VALUES ({_PLACEHOLDERS}) "
    "ON CONFLICT (subscription_id) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in COLUMNS.split(",")[1:])
)

_UPDATE = (
    "UPDATE report_subscriptions SET "
    + ", ".join(f"{c.strip()} = ${i}" for i, c in enumerate(COLUMNS.split(",")[1:], start=2))
    + " WHERE subscription_id = $1"
)


class PostgresSubscriptionStore(PostgresComponentStore):
    component = COMPONENT
    migrations = MIGRATIONS
    what = "subscription"

    async def put(self, sub: Subscription) -> None:
        await self._require_pool().execute(_UPSERT, *subscription_row(sub))

    async def update(self, sub: Subscription) -> bool:
        status = await self._require_pool().execute(_UPDATE, *subscription_row(sub))
        return str(status).endswith(" 1")

    async def delete(self, subscription_id: str) -> bool:
        status = await self._require_pool().execute(
            "DELETE FROM report_subscriptions WHERE subscription_id = $1", subscription_id
        )
        return str(status).endswith(" 1")

    async def claim(self, sub: Subscription, until_s: float) -> bool:
        status = await self._require_pool().execute(
            "UPDATE report_subscriptions SET due = $1 WHERE subscription_id = $2 AND due = $3",
            until_s,
            sub.subscription_id,
            sub.due_s,
        )
        return str(status).endswith(" 1")

    async def all(self) -> list[Subscription]:
        rows = await self._require_pool().fetch(
            f"SELECT {COLUMNS} FROM report_subscriptions ORDER BY created_at, subscription_id"
        )
        return [subscription_from_row(tuple(row)) for row in rows]


def subscription_store(database_url: str | None, data_dir: Path) -> SubscriptionStore:
    """PostgreSQL at ``database_url`` when set (as the alarm rules), else SQLite in ``data_dir``."""
    if database_url:
        return PostgresSubscriptionStore(database_url)
    return SqliteSubscriptionStore(data_dir / SQLITE_FILE)
