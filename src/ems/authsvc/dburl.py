"""Django ``DATABASES["default"]`` from a URL, or the embedded SQLite file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ems.authsvc.errors import AuthConfigError

__all__ = ["database_from_url", "require_driver", "sqlite_database"]

#: How long a writer waits for SQLite's lock before giving up [s]; the CLI and a
#: running server may write at the same time.
SQLITE_TIMEOUT_S = 20


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets readers (token checks) run while a writer holds the lock;
            # IMMEDIATE takes the write lock at BEGIN, so a transaction never fails
            # half-way when it upgrades from read to write.
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_TIMEOUT_S,
        },
    }


def database_from_url(url: str) -> dict[str, Any]:
    """``postgresql://user:pass@host:port/db?sslmode=require`` or ``sqlite:////abs/path``.

    PostgreSQL needs the ``psycopg`` package (a dependency, pinned in requirements.lock).
    User and password may be percent-encoded; query parameters become
    connection ``OPTIONS`` (e.g. ``sslmode``).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # As in SQLAlchemy: sqlite:///relative/file, sqlite:////absolute/file.
        path = unquote(parts.path)[1:]
        if parts.netloc or not path:
            raise AuthConfigError(f"database URL {_redact(url)}: expected sqlite:///FILE")
        return sqlite_database(Path(path))
    if scheme not in ("postgres", "postgresql"):
        raise AuthConfigError(
            f"database URL {_redact(url)}: scheme must be postgresql:// or sqlite:///"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise AuthConfigError(f"database URL {_redact(url)}: no database name")
    try:
        port = parts.port
    except ValueError:
        raise AuthConfigError(f"database URL {_redact(url)}: bad port") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port) if port is not None else "",
        "OPTIONS": dict(parse_qsl(parts.query)),
        # Re-check a pooled connection before use, so a restarted server is survived.
        "CONN_HEALTH_CHECKS": True,
    }


def require_driver(database: dict[str, Any]) -> None:
    """Fail early, and clearly, when PostgreSQL is asked for without its driver."""
    if database["ENGINE"] != "django.db.backends.postgresql":
        return
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        raise AuthConfigError(
            "a postgresql:// database needs the psycopg package (pip install 'psycopg[binary]')"
        )


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
