"""``ems auth …``: serve the auth service, migrate, create users and edge keys.

Importing this module is cheap (Django loads only when a command runs), so the
main ``ems`` parser can add these subcommands unconditionally.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from ems.authsvc.identity import Role

__all__ = ["add_auth_parser", "main"]

#: Randomness of a generated password [bytes] (144 bits, 24 characters).
GENERATED_PASSWORD_BYTES = 18


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get("EMS_DATA_DIR") or "ems-data")


def _configure(args: argparse.Namespace, extra_hosts: Sequence[str] = ()) -> None:
    from ems.authsvc.bootstrap import configure

    database_url = args.database_url or os.environ.get("EMS_AUTH_DATABASE_URL") or None
    configure(_data_dir(args), database_url, extra_allowed_hosts=extra_hosts)


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """``--password``, else ``EMS_AUTH_PASSWORD``, else a generated one; and whether generated."""
    given = args.password or os.environ.get("EMS_AUTH_PASSWORD")
    if given:
        return given, False
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES), True


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    _configure(args, extra_hosts=args.allowed_host)
    from ems.authsvc.asgi import asgi_app

    # log_config=None: keep the process's logging (ems.logs) instead of uvicorn's.
    uvicorn.run(asgi_app(), host=args.host, port=args.port, log_config=None, server_header=False)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    _configure(args)  # configure() applies the migrations
    print(f"auth database up to date ({_data_dir(args)})", file=sys.stderr)
    return 0


def _cmd_create_user(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import create_user

    password, generated = _password(args)
    create_user(args.name, args.role, password)
    print(f"created user {args.name} with role {args.role}", file=sys.stderr)
    if generated:
        print("generated password (shown once):", file=sys.stderr)
        print(password)
    return 0


def _cmd_set_password(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import set_password

    password, generated = _password(args)
    set_password(args.name, password)
    print(f"password of {args.name} changed", file=sys.stderr)
    if generated:
        print("generated password (shown once):", file=sys.stderr)
        print(password)
    return 0


def _cmd_create_edge_key(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import create_edge_key

    # The key alone on stdout, so `... > site-1.key` writes a key file.
    print(create_edge_key(args.edge_id, label=args.label))
    return 0


def _cmd_revoke_edge_keys(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import revoke_edge_keys

    count = revoke_edge_keys(args.edge_id)
    print(f"revoked {count} active key(s) of edge {args.edge_id}")
    return 0


def add_auth_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``auth`` and its subcommands; each sets ``func`` (returns an exit code)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="database and key files (default: $EMS_DATA_DIR, else ./ems-data)",
    )
    common.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://user:pass@host:port/db (needs the psycopg package; prefer the "
        "environment variable, a command line is visible to other users); default "
        "$EMS_AUTH_DATABASE_URL, else SQLite in the data directory",
    )
    password_help = (
        "the password (visible to other users in the process list: prefer "
        "$EMS_AUTH_PASSWORD); without either, a strong one is generated and printed once"
    )

    auth = subparsers.add_parser(
        "auth",
        help="the auth service: users, roles, edge keys, tokens",
        description="The auth service (Django): users and roles, edge API keys, JWTs.",
    )
    sub = auth.add_subparsers(dest="auth_command", required=True, metavar="SUBCOMMAND")

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="serve the auth service over HTTP",
        description="Serve /auth/token, /auth/token/refresh, /auth/jwks.json, /auth/healthz "
        "and the Django admin at /auth/admin/ (migrations are applied first).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8001, help="port to listen on")
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a Host name to accept besides loopback and $EMS_ALLOWED_HOSTS (repeatable)",
    )
    serve.set_defaults(func=_cmd_serve)

    mig = sub.add_parser(
        "migrate",
        parents=[common],
        help="create or upgrade the auth database",
        description="Apply the auth database migrations, creating keys on first use.",
    )
    mig.set_defaults(func=_cmd_migrate)

    roles = [role.value for role in Role]
    user = sub.add_parser(
        "create-user",
        parents=[common],
        help="create a user",
        description="Create a user with a role: viewer (read), operator (read and command) "
        "or admin (also users, edges and keys; may use the Django admin).",
    )
    user.add_argument("name", metavar="NAME", help="the username")
    user.add_argument("--role", required=True, choices=roles, help="the user's role")
    user.add_argument("--password", help=password_help)
    user.set_defaults(func=_cmd_create_user)

    setpw = sub.add_parser(
        "set-password",
        parents=[common],
        help="change a user's password",
        description="Change a user's password; refresh tokens issued before stop working.",
    )
    setpw.add_argument("name", metavar="NAME", help="the username")
    setpw.add_argument("--password", help=password_help)
    setpw.set_defaults(func=_cmd_set_password)

    key = sub.add_parser(
        "create-edge-key",
        parents=[common],
        help="create an API key for an edge",
        description="Create an API key for an edge and print it (alone, once) on stdout, "
        "e.g. `ems auth create-edge-key site-1 > site-1.key`. Only its hash is stored.",
    )
    key.add_argument("edge_id", metavar="EDGE_ID", help="the edge, e.g. site-1")
    key.add_argument("--label", default="", help="a note, e.g. where the key is deployed")
    key.set_defaults(func=_cmd_create_edge_key)

    revoke = sub.add_parser(
        "revoke-edge-keys",
        parents=[common],
        help="revoke all keys of an edge",
        description="Revoke every active API key of an edge (to rotate one key, create the "
        "new key first; single keys can be revoked in the admin).",
    )
    revoke.add_argument("edge_id", metavar="EDGE_ID", help="the edge, e.g. site-1")
    revoke.set_defaults(func=_cmd_revoke_edge_keys)
    return auth


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ems.authsvc.cli auth …``: the ``ems`` command line, for these commands."""
    from ems.cli import main as ems_main

    return ems_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
