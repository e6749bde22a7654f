"""Starting the auth service in this process: Django settings, keys, migrations.

Django's settings are process-wide, so :func:`configure` takes effect once per
process; calling it again with the same arguments does nothing, with different
ones it raises. Call it from a thread, not from a running event loop (migrations
use the synchronous ORM).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import django
from django.conf import settings as django_settings

from ems.authsvc.dburl import database_from_url, require_driver, sqlite_database
from ems.authsvc.errors import AuthConfigError
from ems.authsvc.files import ensure_private_dir, read_or_create
from ems.authsvc.settings import allowed_hosts, build_settings
from ems.authsvc.signing import SigningKey, load_or_create_signing_key
from ems.authsvc.tokens import TokenPolicy

__all__ = [
    "AUTH_DIR",
    "SECRET_FILE",
    "SQLITE_FILE",
    "configure",
    "is_configured",
    "migrate",
    "service_token",
    "service_token_from_env",
    "signing_key",
    "token_policy",
]

log = logging.getLogger(__name__)

#: Under the data directory: the key files.
AUTH_DIR = "auth"
#: The embedded database, under the data directory.
SQLITE_FILE = "auth.sqlite3"
#: The shared secret of the auth service and the clouds that check edge keys over HTTP.
SERVICE_TOKEN_ENV = "EMS_AUTH_SERVICE_TOKEN"
MIN_SERVICE_TOKEN_CHARS = 32
#: Django's SECRET_KEY (sessions, CSRF, password-reset tokens), under AUTH_DIR.
SECRET_FILE = "django-secret"


@dataclass(frozen=True, slots=True)
class _Arguments:
    data_dir: Path
    database_url: str | None
    debug: bool
    hosts: tuple[str, ...]

    def __str__(self) -> str:
        db = "a database URL" if self.database_url else "SQLite"
        return f"data dir {self.data_dir}, {db}, debug={self.debug}, hosts={list(self.hosts)}"


@dataclass(slots=True)
class _State:
    arguments: _Arguments
    key: SigningKey
    policy: TokenPolicy
    service_token: str | None = None
    migrated: bool = False


_lock = threading.Lock()
_state: _State | None = None


def configure(
    data_dir: Path,
    database_url: str | None = None,
    *,
    debug: bool = False,
    extra_allowed_hosts: Iterable[str] = (),
) -> None:
    """Configure Django for the auth service, create keys if needed, apply migrations.

    ``data_dir`` is created (mode 0700) if missing and holds ``auth.sqlite3`` (unless
    ``database_url`` names a PostgreSQL database, which needs the ``psycopg``
    package) and ``auth/`` with the JWT signing key and Django's secret key (0600).
    ``extra_allowed_hosts`` adds to the loopback names and ``EMS_ALLOWED_HOSTS``.
    Token lifetimes, issuer and audience come from ``EMS_JWT_*`` (:class:`TokenPolicy`).
    """
    global _state
    arguments = _Arguments(
        Path(data_dir).resolve(), database_url, debug, tuple(extra_allowed_hosts)
    )
    with _lock:
        if _state is not None:
            if _state.arguments != arguments:
                raise AuthConfigError(
                    f"the auth service is already configured in this process "
                    f"({_state.arguments}); cannot switch to ({arguments})"
                )
        else:
            if django_settings.configured:
                raise AuthConfigError("Django was already configured by other code")
            _state = _setup(arguments)
        if not _state.migrated:  # also retries after a failed first attempt
            migrate()
            _state.migrated = True


def _setup(arguments: _Arguments) -> _State:
    policy = TokenPolicy.from_env()
    database = (
        database_from_url(arguments.database_url)
        if arguments.database_url
        else sqlite_database(arguments.data_dir / SQLITE_FILE)
    )
    require_driver(database)
    ensure_private_dir(arguments.data_dir)
    auth_dir = arguments.data_dir / AUTH_DIR
    key = load_or_create_signing_key(auth_dir)  # creates auth_dir (0700) too
    secret_key = read_or_create(
        auth_dir / SECRET_FILE, lambda: secrets.token_urlsafe(50).encode("ascii")
    )
    django_settings.configure(
        **build_settings(
            secret_key=secret_key.decode("ascii").strip(),
            database=database,
            hosts=allowed_hosts(arguments.hosts),
            debug=arguments.debug,
        )
    )
    django.setup()
    log.info("auth service: %s, signing key kid=%s", arguments, key.kid)
    return _State(arguments, key, policy, service_token_from_env())


def migrate() -> None:
    """Apply the database migrations (quietly; a no-op when up to date)."""
    from django.core.management import call_command

    if not django_settings.configured:
        raise AuthConfigError("call ems.authsvc.configure() first")
    call_command("migrate", interactive=False, verbosity=0)


def is_configured() -> bool:
    """Whether :func:`configure` has completed in this process."""
    return _state is not None and _state.migrated


def service_token_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """``EMS_AUTH_SERVICE_TOKEN``: what a cloud must present to check edge keys over HTTP
    (``POST /auth/edge-keys/check``); unset, that endpoint is off."""
    token = environ.get(SERVICE_TOKEN_ENV) or None
    if token is not None and len(token) < MIN_SERVICE_TOKEN_CHARS:
        raise AuthConfigError(
            f"{SERVICE_TOKEN_ENV}: at least {MIN_SERVICE_TOKEN_CHARS} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def service_token() -> str | None:
    return _current().service_token


def signing_key() -> SigningKey:
    return _current().key


def token_policy() -> TokenPolicy:
    return _current().policy


def _current() -> _State:
    if _state is None:
        raise AuthConfigError("call ems.authsvc.configure() first")
    return _state
