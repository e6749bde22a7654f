"""Configuration: key files, the database URL, settings, token policy, configure() once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

import ems.authsvc
from ems.authsvc import bootstrap
from ems.authsvc.dburl import database_from_url, require_driver
from ems.authsvc.errors import AuthConfigError
from ems.authsvc.files import read_or_create
from ems.authsvc.settings import DEFAULT_ALLOWED_HOSTS, allowed_hosts, build_settings
from ems.authsvc.signing import b64url, jwk_thumbprint, load_or_create_signing_key
from ems.authsvc.tokens import TokenPolicy


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the signing key ----------------------------------------------------------------------


def test_the_signing_key_persists_across_loads(tmp_path: Path) -> None:
    auth_dir = tmp_path / "data" / "auth"
    first = load_or_create_signing_key(auth_dir)
    pem = (auth_dir / "jwt-ed25519.pem").read_bytes()
    second = load_or_create_signing_key(auth_dir)
    assert second.kid == first.kid
    assert (auth_dir / "jwt-ed25519.pem").read_bytes() == pem
    assert second.jwk() == first.jwk()
    assert load_or_create_signing_key(tmp_path / "elsewhere").kid != first.kid


def test_key_files_and_directories_are_private(tmp_path: Path) -> None:
    auth_dir = tmp_path / "data" / "auth"
    load_or_create_signing_key(auth_dir)
    assert _mode(auth_dir) == 0o700
    assert _mode(auth_dir / "jwt-ed25519.pem") == 0o600
    assert list(auth_dir.iterdir()) == [auth_dir / "jwt-ed25519.pem"]  # no temporary left


def test_the_service_data_dir_is_private(auth_data_dir: Path) -> None:
    assert _mode(auth_data_dir) == 0o700
    assert _mode(auth_data_dir / "auth") == 0o700
    assert _mode(auth_data_dir / "auth" / "jwt-ed25519.pem") == 0o600
    assert _mode(auth_data_dir / "auth" / "django-secret") == 0o600
    assert (auth_data_dir / "auth.sqlite3").is_file()
    assert bootstrap.signing_key().kid == load_or_create_signing_key(auth_data_dir / "auth").kid


def test_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037, appendix A.3: the thumbprint of the example Ed25519 key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert jwk_thumbprint({**jwk, "kid": "ignored", "use": "sig"}) == jwk_thumbprint(jwk)


def test_the_jwk_holds_the_raw_public_key(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path)
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.jwk()["x"] == b64url(raw)
    assert key.jwk()["kid"] == key.kid == jwk_thumbprint(key.jwk())
    assert key.jwks() == {"keys": [key.jwk()]}


def test_a_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "jwt-ed25519.pem").write_bytes(b"not a key")
    with pytest.raises(AuthConfigError, match=r"jwt-ed25519\.pem"):
        load_or_create_signing_key(tmp_path)


def test_a_key_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "jwt-ed25519.pem").write_bytes(pem)
    with pytest.raises(AuthConfigError, match="Ed25519"):
        load_or_create_signing_key(tmp_path)


def test_read_or_create_keeps_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert read_or_create(path, lambda: b"first") == b"first"
    assert read_or_create(path, lambda: pytest.fail("must not be called")) == b"first"


def test_read_or_create_loses_a_race_gracefully(tmp_path: Path) -> None:
    path = tmp_path / "secret"

    def other_process_wins() -> bytes:
        path.write_bytes(b"theirs")  # created while we were generating ours
        return b"ours"

    assert read_or_create(path, other_process_wins) == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


# --- database URLs ------------------------------------------------------------------------


def test_postgres_urls_become_django_settings() -> None:
    db = database_from_url(
        "postgresql://ems:p%40ss%3Aword@db.example:5433/ems_auth?sslmode=require"
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("ems_auth", "ems", "p@ss:word")
    assert (db["HOST"], db["PORT"]) == ("db.example", "5433")
    assert db["OPTIONS"] == {"sslmode": "require"}
    short = database_from_url("postgres://localhost/ems")
    assert (short["NAME"], short["USER"], short["HOST"], short["PORT"]) == (
        "ems",
        "",
        "localhost",
        "",
    )


def test_sqlite_urls_name_a_file() -> None:
    db = database_from_url("sqlite:////var/lib/ems/auth.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/var/lib/ems/auth.sqlite3"
    assert database_from_url("sqlite:///auth.sqlite3")["NAME"] == "auth.sqlite3"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:secret@h/db",
        "postgresql://u:secret@h/",
        "postgresql://u:secret@h:notaport/db",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/file",
        "nonsense",
    ],
)
def test_bad_database_urls_are_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(AuthConfigError) as info:
        database_from_url(url)
    assert "secret" not in str(info.value)


def test_postgres_without_its_driver_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(AuthConfigError, match="psycopg"):
        require_driver(database_from_url("postgresql://ems@localhost/ems"))
    require_driver(database_from_url("sqlite:///auth.sqlite3"))  # SQLite needs nothing


# --- settings -----------------------------------------------------------------------------


def test_allowed_hosts_are_loopback_plus_env_plus_extra() -> None:
    env = {"EMS_ALLOWED_HOSTS": "ems.example.org, cloud.example.org,,"}
    hosts = allowed_hosts(["extra.example", "localhost"], environ=env)
    assert hosts == [
        *DEFAULT_ALLOWED_HOSTS,
        "ems.example.org",
        "cloud.example.org",
        "extra.example",
    ]
    assert "*" not in allowed_hosts(environ={})


def test_settings_are_production_minded() -> None:
    settings = build_settings(
        secret_key="k", database={}, hosts=["localhost"], environ={"EMS_AUTH_SECURE_COOKIES": "1"}
    )
    assert settings["DEBUG"] is False
    assert settings["USE_TZ"] is True
    assert settings["AUTH_USER_MODEL"] == "emsauth.User"
    assert settings["WHITENOISE_USE_FINDERS"] is True
    assert settings["STATIC_URL"] == "/auth/static/"
    assert settings["SESSION_COOKIE_PATH"] == "/auth/"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert "FORCE_SCRIPT_NAME" not in settings
    assert settings["AUTH_PASSWORD_VALIDATORS"]


def test_the_running_configuration_passes_djangos_checks() -> None:
    from django.core import checks

    assert checks.run_checks() == []


# --- token policy -------------------------------------------------------------------------


def test_token_policy_defaults_and_environment() -> None:
    assert TokenPolicy.from_env({}) == TokenPolicy("ems-auth", "ems-cloud", 900, 8 * 3600)
    env = {
        "EMS_JWT_ISSUER": "iss-x",
        "EMS_JWT_AUDIENCE": "aud-y",
        "EMS_JWT_ACCESS_TTL_S": "60",
        "EMS_JWT_REFRESH_TTL_S": "3600",
    }
    assert TokenPolicy.from_env(env) == TokenPolicy("iss-x", "aud-y", 60, 3600)


@pytest.mark.parametrize("value", ["0", "-5", "15m", "1.5"])
def test_a_bad_ttl_is_refused(value: str) -> None:
    with pytest.raises(AuthConfigError, match="EMS_JWT_ACCESS_TTL_S"):
        TokenPolicy.from_env({"EMS_JWT_ACCESS_TTL_S": value})


# --- configure() ----------------------------------------------------------------------------


def test_configure_again_with_the_same_arguments_is_a_no_op(auth_data_dir: Path) -> None:
    kid = bootstrap.signing_key().kid
    ems.authsvc.configure(auth_data_dir)
    ems.authsvc.configure(Path(os.path.relpath(auth_data_dir)))  # the same directory
    assert bootstrap.signing_key().kid == kid
    assert ems.authsvc.is_configured()


def test_configure_cannot_switch_to_another_directory(auth_data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="already configured"):
        ems.authsvc.configure(tmp_path)
    assert not (tmp_path / "auth").exists()


def test_migrate_is_idempotent() -> None:
    ems.authsvc.migrate()
    ems.authsvc.migrate()


def test_the_migrations_match_the_models() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "emsauth", check=True, dry_run=True, stdout=out)


def test_the_package_exports_resolve() -> None:
    assert set(ems.authsvc.__all__) == set(ems.authsvc._HOME)
    for name in ems.authsvc.__all__:
        assert getattr(ems.authsvc, name) is not None
    with pytest.raises(AttributeError):
        _ = ems.authsvc.no_such_thing


def test_importing_the_cli_does_not_load_django() -> None:
    code = "import sys, ems.authsvc.cli; print('django' in sys.modules, 'jwt' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
