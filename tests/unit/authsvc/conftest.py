"""Configures the auth service once for the whole test session (Django settings are
process-wide) on a temporary data directory, and empties the tables after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ems.authsvc

#: Environment that would change the service's behaviour; the tests set their own.
_ENV = (
    "EMS_ALLOWED_HOSTS",
    "EMS_CSRF_TRUSTED_ORIGINS",
    "EMS_AUTH_SECURE_COOKIES",
    "EMS_JWT_ISSUER",
    "EMS_JWT_AUDIENCE",
    "EMS_JWT_ACCESS_TTL_S",
    "EMS_JWT_REFRESH_TTL_S",
    "EMS_DATA_DIR",
    "EMS_AUTH_DATABASE_URL",
    "EMS_AUTH_PASSWORD",
    "EMS_AUTH_SERVICE_TOKEN",
)


@pytest.fixture(scope="session")
def auth_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("authsvc") / "data"
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV:
            mp.delenv(name, raising=False)
        ems.authsvc.configure(data_dir)
    from django.test.utils import override_settings

    # Django's default hasher takes ~0.3 s per password by design; the tests check
    # what the service does with a password, not the hasher, so use a fast one.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    fast.enable()
    yield data_dir
    fast.disable()
    from django.db import connections

    connections.close_all()


@pytest.fixture(autouse=True)
def _clean_tables(auth_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    from ems.authsvc.models import (
        AuditEntry,
        EdgeKey,
        EdgeOwner,
        Organisation,
        ProvisionedEdge,
        User,
    )

    EdgeKey.objects.all().delete()
    EdgeOwner.objects.all().delete()
    Organisation.objects.exclude(name="default").delete()
    ProvisionedEdge.objects.all().delete()
    User.objects.all().delete()
    AuditEntry.objects.all().delete()


@pytest.fixture
def operator() -> tuple[str, str]:
    """An operator's (username, password)."""
    ems.authsvc.create_user("olga", "operator", "correct horse battery staple")
    return "olga", "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_login_throttle() -> Iterator[None]:
    """Each test starts with full login buckets (the throttle is per process)."""
    from ems.authsvc.throttle import login_throttle

    login_throttle.cache_clear()
    yield
    login_throttle.cache_clear()
