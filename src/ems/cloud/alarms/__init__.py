"""The alarm core (:mod:`ems.alarms`) in the cloud: DESIGN 14, issue 17 items 1-5.

- :mod:`~ems.cloud.alarms.service`: :class:`AlarmService`, ingest, commit, commands, rules, upkeep
- :mod:`~ems.cloud.alarms.shared_state`: current states in Redis, compare-and-set transitions
- :mod:`~ems.cloud.alarms.store`, ``sqlite``, ``postgres``: rules, rule changes, transitions
- :mod:`~ems.cloud.alarms.routes`: ``/api/alarm-rules`` and ``/api/alarms``
- :mod:`~ems.cloud.alarms.notify`, ``outbox``, ``smtp``: e-mail, retried, escalated
"""

from pathlib import Path

from ems.cloud.alarms.notify import Directory, MailNotifier, compose
from ems.cloud.alarms.outbox import Mail, Outbox
from ems.cloud.alarms.postgres import PostgresAlarmStore
from ems.cloud.alarms.service import AlarmService, StateConflict
from ems.cloud.alarms.shared_state import SharedAlarms
from ems.cloud.alarms.smtp import MailRefused, SmtpTarget, parse_smtp_url, send_mail
from ems.cloud.alarms.sqlite import SQLITE_FILE, SqliteAlarmStore
from ems.cloud.alarms.store import AlarmStore

__all__ = [
    "AlarmService",
    "AlarmStore",
    "Directory",
    "Mail",
    "MailNotifier",
    "MailRefused",
    "Outbox",
    "PostgresAlarmStore",
    "SharedAlarms",
    "SmtpTarget",
    "SqliteAlarmStore",
    "StateConflict",
    "alarm_store",
    "compose",
    "parse_smtp_url",
    "send_mail",
]


def alarm_store(database_url: str | None, data_dir: Path) -> AlarmStore:
    """PostgreSQL at ``database_url`` when set, else a SQLite file in ``data_dir``."""
    if database_url:
        return PostgresAlarmStore(database_url)
    return SqliteAlarmStore(data_dir / SQLITE_FILE)
