"""Both subscription stores keep every field, replace on put, delete once, and survive a
restart (SQLite file; PostgreSQL, beside the alarm rules)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from ems.cloud.report_mail import (
    MailStatus,
    PostgresSubscriptionStore,
    SqliteSubscriptionStore,
    Subscription,
    SubscriptionStore,
)
from ems.reports.period import PeriodKind

Factory = Callable[[], SubscriptionStore]


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    if request.param == "sqlite":
        yield lambda: SqliteSubscriptionStore(tmp_path / "subs.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
        yield lambda: PostgresSubscriptionStore(url)


def subscription() -> Subscription:
    return Subscription(
        uuid.uuid4().hex,
        "site-1",
        PeriodKind.WEEK,
        ("ann@example.test", "bo@example.test"),
        "ann",
        1_773_000_000.5,
        dt.date(2026, 3, 16),
        1_774_220_100.0,
    )


@pytest.mark.asyncio
async def test_a_subscription_round_trips_and_survives_a_restart(factory: Factory) -> None:
    store = factory()
    await store.start()
    await store.start()  # idempotent: a second process starting on the same schema
    sub = subscription()
    try:
        await store.put(sub)
        retried = dataclasses.replace(
            sub,
            status=MailStatus.RETRYING,
            attempts=2,
            last_error="smtp://127.0.0.1:25 answered 451",
            last_sent_period=dt.date(2026, 3, 9),
            last_sent_at_s=1_773_600_000.25,
        )
        assert await store.update(retried) is True
    finally:
        await store.close()
    again = factory()
    await again.start()
    try:
        assert [s for s in await again.all() if s.subscription_id == sub.subscription_id] == [
            retried
        ]
        # The claim is a compare-and-set on the due time: one process wins it.
        assert await again.claim(retried, retried.due_s + 600) is True
        assert await again.claim(retried, retried.due_s + 600) is False
        [claimed] = [s for s in await again.all() if s.subscription_id == sub.subscription_id]
        assert claimed.due_s == retried.due_s + 600
        assert await again.delete(sub.subscription_id) is True
        assert await again.delete(sub.subscription_id) is False
        assert await again.update(retried) is False  # an unsubscribe is not undone
        assert sub.subscription_id not in {s.subscription_id for s in await again.all()}
    finally:
        await again.close()
