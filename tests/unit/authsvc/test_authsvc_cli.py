"""``ems auth …``: the handlers in this process, and ``python -m ems.authsvc.cli`` in another."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

import ems.authsvc
from ems.authsvc.asgi import AuthAsgiApp
from ems.authsvc.cli import add_auth_parser
from ems.authsvc.errors import AuthConfigError, UserExists

KEY_RE = re.compile(r"^ems_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
SUBCOMMANDS = (
    "serve",
    "migrate",
    "create-user",
    "set-password",
    "create-edge-key",
    "import-edges",
    "revoke-edge-keys",
)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ems")
    add_auth_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def _run(*argv: str) -> int:
    args = _parse(*argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def dd(auth_data_dir: Path) -> tuple[str, str]:
    """``--data-dir`` of the session's service (configure() happens once a process)."""
    return "--data-dir", str(auth_data_dir)


# --- in this process ----------------------------------------------------------------------


def test_create_edge_key_prints_only_the_key(
    dd: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("auth", "create-edge-key", "site-3", "--label", "north", *dd) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    key = out.strip()
    assert KEY_RE.fullmatch(key)
    assert ems.authsvc.verify_edge_key("site-3", key)


def test_create_user_without_a_password_prints_a_generated_one(
    dd: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("auth", "create-user", "ada", "--role", "admin", *dd) == 0
    captured = capsys.readouterr()
    password = captured.out.strip()
    assert len(password) >= 24
    assert "created user ada with role admin" in captured.err
    body = ems.authsvc.authenticate_tokens("ada", password)
    assert body is not None
    assert body["role"] == "admin"


def test_create_user_takes_the_password_from_the_environment(
    dd: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMS_AUTH_PASSWORD", "from the environment 42")
    assert _run("auth", "create-user", "vera", "--role", "viewer", *dd) == 0
    assert capsys.readouterr().out == ""  # nothing to show
    assert ems.authsvc.authenticate_tokens("vera", "from the environment 42") is not None


def test_create_user_twice_is_an_error(dd: tuple[str, str]) -> None:
    _run(
        "auth", "create-user", "olga", "--role", "operator", "--password", "a fine passphrase", *dd
    )
    with pytest.raises(UserExists):
        _run("auth", "create-user", "olga", "--role", "admin", "--password", "x" * 20, *dd)


def test_an_invalid_role_is_refused_by_the_parser(
    dd: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _parse("auth", "create-user", "olga", "--role", "root", *dd)
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_set_password(dd: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    ems.authsvc.create_user("olga", "operator", "a fine passphrase")
    assert _run("auth", "set-password", "olga", *dd) == 0
    password = capsys.readouterr().out.strip()
    assert ems.authsvc.authenticate_tokens("olga", password) is not None
    assert ems.authsvc.authenticate_tokens("olga", "a fine passphrase") is None


def test_revoke_edge_keys(dd: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    keys = [ems.authsvc.create_edge_key("site-4") for _ in range(2)]
    assert _run("auth", "revoke-edge-keys", "site-4", *dd) == 0
    assert capsys.readouterr().out.strip() == "revoked 2 active key(s) of edge site-4"
    assert not any(ems.authsvc.verify_edge_key("site-4", key) for key in keys)


def test_migrate(dd: tuple[str, str]) -> None:
    assert _run("auth", "migrate", *dd) == 0


def test_the_data_dir_defaults_to_ems_data_dir(
    auth_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMS_DATA_DIR", str(auth_data_dir))
    assert _run("auth", "create-edge-key", "site-5") == 0
    assert ems.authsvc.verify_edge_key("site-5", capsys.readouterr().out.strip())


def test_the_database_url_comes_from_the_environment(
    dd: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Proof it is read: this process runs on SQLite, so a URL is a different configuration.
    monkeypatch.setenv("EMS_AUTH_DATABASE_URL", "postgresql://ems@localhost/ems")
    with pytest.raises(AuthConfigError, match="already configured"):
        _run("auth", "migrate", *dd)


def test_serve_runs_uvicorn_on_the_asgi_app(
    dd: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert _run("auth", "serve", "--host", "0.0.0.0", "--port", "9001", *dd) == 0
    [(app, kwargs)] = calls
    assert isinstance(app, AuthAsgiApp)
    assert (kwargs["host"], kwargs["port"]) == ("0.0.0.0", 9001)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_subcommand_has_help(subcommand: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parse("auth", subcommand, "--help")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"ems auth {subcommand}" in out
    assert "--data-dir" in out
    assert "--database-url" in out


def test_auth_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse("auth", "--help")
    out = capsys.readouterr().out
    for subcommand in SUBCOMMANDS:
        assert subcommand in out


# --- in another process -------------------------------------------------------------------


def _ems_auth(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("EMS_")}
    return subprocess.run(
        [sys.executable, "-m", "ems.authsvc.cli", "auth", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_fresh_data_dir_from_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    done = _ems_auth("create-edge-key", "site-2", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    key = done.stdout.strip()
    assert done.stdout == key + "\n"
    assert KEY_RE.fullmatch(key)

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for secret in ("auth/jwt-ed25519.pem", "auth/django-secret"):
        assert stat.S_IMODE((data_dir / secret).stat().st_mode) == 0o600
    with sqlite3.connect(data_dir / "auth.sqlite3") as db:
        rows = db.execute("SELECT edge_id, key_hash FROM emsauth_edgekey").fetchall()
    assert rows == [("site-2", hashlib.sha256(key.encode()).hexdigest())]

    made = _ems_auth("create-user", "ada", "--role", "admin", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    with sqlite3.connect(data_dir / "auth.sqlite3") as db:
        [(encoded, role, staff)] = db.execute(
            "SELECT password, role, is_staff FROM emsauth_user WHERE username = 'ada'"
        ).fetchall()
    assert (role, staff) == ("admin", 1)
    assert encoded.startswith("pbkdf2_sha256$")  # Django's default hasher in production
    assert PBKDF2PasswordHasher().verify(password, encoded)

    again = _ems_auth("create-user", "ada", "--role", "admin", "--data-dir", str(data_dir))
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert again.stdout == ""
