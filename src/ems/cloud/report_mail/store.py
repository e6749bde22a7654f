"""Durable subscriptions: the embedded SQLite store (beside the alarm rules, same worker
pattern). Every change is one row written in one transaction, so a subscription's
schedule and status survive a cloud restart."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from ems.cloud.migrations import sqlite_transaction
from ems.cloud.report_mail.model import MailStatus, Subscription
from ems.cloud.sqlite_worker import SqliteWorker
from ems.reports.period import PeriodKind

__all__ = [
    "COLUMNS",
    "SQLITE_FILE",
    "SqliteSubscriptionStore",
    "SubscriptionStore",
    "subscription_from_row",
    "subscription_row",
]

SQLITE_FILE = "report_subscriptions.sqlite3"

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE report_subscriptions (
            subscription_id TEXT PRIMARY KEY, edge_id TEXT NOT NULL, period TEXT NOT NULL,
            recipients TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,
            period_first TEXT NOT NULL, due REAL NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL, last_error TEXT,
            last_sent_period TEXT, last_sent_at REAL
        ) WITHOUT ROWID""",
    ),
)

COLUMNS = (
    "subscription_id, edge_id, period, recipients, created_by, created_at, period_first, "
    "due, status, attempts, last_error, last_sent_period, last_sent_at"
)

_SETS = ", ".join(f"{c.strip()} = ?" for c in COLUMNS.split(",")[1:])


class SubscriptionStore(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, sub: Subscription) -> None:
        """Insert or replace."""

    async def update(self, sub: Subscription) -> bool:
        """Replace an existing row (after an attempt); ``False`` when it was deleted meanwhile,
        so an unsubscribe during a send is not undone."""

    async def delete(self, subscription_id: str) -> bool:
        """``False`` when there was no such subscription."""

    async def claim(self, sub: Subscription, until_s: float) -> bool:
        """Move ``sub``'s due time to ``until_s`` if it is still ``sub.due_s``: ``True`` for
        the one process that did, so a period is sent by one process of a cluster."""

    async def all(self) -> list[Subscription]: ...


class SqliteSubscriptionStore(SqliteWorker):
    component = "report_subscriptions"
    migrations = MIGRATIONS

    async def put(self, sub: Subscription) -> None:
        await self._run(self._put, sub)

    async def delete(self, subscription_id: str) -> bool:
        return await self._run(self._delete, subscription_id)

    async def update(self, sub: Subscription) -> bool:
        return await self._run(self._update, sub)

    async def all(self) -> list[Subscription]:
        return await self._run(self._all)

    async def claim(self, sub: Subscription, until_s: float) -> bool:
        return await self._run(self._claim, sub.subscription_id, sub.due_s, until_s)

    # -- on the worker thread -------------------------------------------------------
    def _put(self, s: Subscription) -> None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.execute(
                f"INSERT OR REPLACE INTO report_subscriptions ({COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                subscription_row(s),
            )

    def _update(self, s: Subscription) -> bool:
        conn = self._db()
        row = subscription_row(s)
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            cur = conn.execute(
                f"UPDATE report_subscriptions SET {_SETS} WHERE subscription_id = ?",
                (*row[1:], row[0]),
            )
        return cur.rowcount == 1

    def _delete(self, subscription_id: str) -> bool:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            cur = conn.execute(
                "DELETE FROM report_subscriptions WHERE subscription_id = ?", (subscription_id,)
            )
        return cur.rowcount > 0

    def _claim(self, subscription_id: str, due_s: float, until_s: float) -> bool:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            cur = conn.execute(
                "UPDATE report_subscriptions SET due = ? WHERE subscription_id = ? AND due = ?",
                (until_s, subscription_id, due_s),
            )
        return cur.rowcount == 1

    def _all(self) -> list[Subscription]:
        rows = self._db().execute(
            f"SELECT {COLUMNS} FROM report_subscriptions ORDER BY created_at, subscription_id"
        )
        return [subscription_from_row(tuple(row)) for row in rows.fetchall()]


def subscription_row(s: Subscription) -> tuple[Any, ...]:
    """The values of :data:`COLUMNS`, in order (recipients one per line, dates ISO)."""
    return (
        s.subscription_id,
        s.edge_id,
        s.period.value,
        "\n".join(s.recipients),
        s.created_by,
        s.created_at_s,
        s.period_first.isoformat(),
        s.due_s,
        s.status.value,
        s.attempts,
        s.last_error,
        None if s.last_sent_period is None else s.last_sent_period.isoformat(),
        s.last_sent_at_s,
    )


def subscription_from_row(row: tuple[Any, ...]) -> Subscription:
    sid, edge, period, to, by, at, first, due, status, attempts, error, sent, sent_at = row
    return Subscription(
        sid,
        edge,
        PeriodKind(period),
        tuple(to.split("\n")),
        by,
        at,
        dt.date.fromisoformat(first),
        due,
        MailStatus(status),
        attempts,
        error,
        None if sent is None else dt.date.fromisoformat(sent),
        sent_at,
    )
