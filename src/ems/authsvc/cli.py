"""``ems auth …``: serve the auth service, migrate, users, grants, edge keys, revocation.

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
    create_user(args.name, args.role, password, edges=args.edge, email=args.email, org=args.org)
    granted = f", edges {', '.join(args.edge)}" if args.edge else ""
    print(f"created user {args.name} with role {args.role}{granted}", file=sys.stderr)
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
    print(create_edge_key(args.edge_id, label=args.label, org=args.org))
    return 0


def _cmd_create_org(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.orgs import create_org

    create_org(args.name)
    print(f"created organisation {args.name}", file=sys.stderr)
    return 0


def _cmd_import_edges(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.provision import import_edges

    result = import_edges(args.file, args.keys_out)
    print(
        f"imported {result.edges} edge(s) on {result.sites} site(s); their keys (shown "
        f"once) are in {result.key_file} (mode 0600)",
        file=sys.stderr,
    )
    return 0


def _cmd_revoke_edge_keys(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import revoke_edge_keys

    count = revoke_edge_keys(args.edge_id, args.key_id or None)
    print(f"revoked {count} active key(s) of edge {args.edge_id}")
    return 0


def _cmd_revoke_user(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import revoke_user

    revoke_user(args.name)
    print(f"sessions of {args.name} ended: every token issued before now is refused")
    return 0


def _cmd_grant(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import grant_edges, grants

    grant_edges(args.name, args.edge_ids)
    print(f"{args.name} may access: {', '.join(grants(args.name)) or 'no edge'}")
    return 0


def _cmd_revoke_grant(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import grants, revoke_grants

    revoke_grants(args.name, args.edge_ids)
    print(f"{args.name} may access: {', '.join(grants(args.name)) or 'no edge'}")
    return 0


def _cmd_grants(args: argparse.Namespace) -> int:
    _configure(args)
    from ems.authsvc.api import grants

    print("\n".join(grants(args.name)))
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
    user.add_argument(
        "--edge",
        action="append",
        default=[],
        metavar="EDGE_ID",
        help="grant access to this edge (repeatable; * for every edge; admins see all)",
    )
    user.add_argument("--email", default="", help="where alarm notifications go")
    user.add_argument(
        "--org",
        default=None,
        metavar="ORG",
        help="the organisation the user joins with --role (default: 'default'; an admin "
        "without --org is a superuser of every organisation)",
    )
    user.set_defaults(func=_cmd_create_user)

    org = sub.add_parser(
        "create-org",
        parents=[common],
        help="create an organisation",
        description="Create an organisation (DESIGN 16); nothing of it is visible to "
        "users of another one.",
    )
    org.add_argument("name", metavar="NAME", help="e.g. acme")
    org.set_defaults(func=_cmd_create_org)

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
    key.add_argument(
        "--org", default=None, metavar="ORG", help="the organisation the edge belongs to"
    )
    key.set_defaults(func=_cmd_create_edge_key)

    bulk = sub.add_parser(
        "import-edges",
        parents=[common],
        help="provision edges and their keys from a CSV file",
        description="Create the edges of a CSV file and one API key each, in one "
        "transaction. Columns: organisation, site, edge_id, name, latitude, longitude "
        "(degrees, WGS 84) and optionally profile (device profiles, ';'-separated, e.g. "
        "battery;pv_inverter). organisation must be 'default' until organisations exist. "
        "Any bad row (its line and column are named), an edge id twice in the file or "
        "already known, refuses the whole file and changes nothing. The keys are written "
        "once, as edge_id,api_key lines, to a new file readable only by its owner.",
    )
    bulk.add_argument("file", type=Path, metavar="FILE.csv", help="the edges, one a row")
    bulk.add_argument(
        "--keys-out",
        type=Path,
        required=True,
        metavar="FILE",
        help="where to write the keys (created with mode 0600; an existing file is refused)",
    )
    bulk.set_defaults(func=_cmd_import_edges)

    revoke = sub.add_parser(
        "revoke-edge-keys",
        parents=[common],
        help="revoke all keys of an edge",
        description="Revoke the active API keys of an edge, all or those named with "
        "--key-id (to rotate a key: create the new one, deploy it, then revoke the old "
        "one by its id). A connected edge using a revoked key is disconnected.",
    )
    revoke.add_argument("edge_id", metavar="EDGE_ID", help="the edge, e.g. site-1")
    revoke.add_argument(
        "--key-id",
        action="append",
        default=[],
        metavar="KEY_ID",
        help="revoke only this key (its public id: the 12 hex digits after 'ems_'; "
        "repeatable), e.g. the old key at the end of a rotation",
    )
    revoke.set_defaults(func=_cmd_revoke_edge_keys)

    revoke_user = sub.add_parser(
        "revoke-user",
        parents=[common],
        help="end every session of a user",
        description="End every session of a user: tokens issued before now are refused "
        "(refresh tokens too) and the cloud closes the user's sockets. The cloud hears "
        "of it through $EMS_REDIS_URL (a cloud on the embedded store serving /auth from "
        "the same data directory notices within its revocation refresh period).",
    )
    revoke_user.add_argument("name", metavar="NAME", help="the username")
    revoke_user.set_defaults(func=_cmd_revoke_user)

    edges_help = "edge ids, e.g. site-1 (* for every edge)"
    grant = sub.add_parser(
        "grant",
        parents=[common],
        help="let a user see and command edges",
        description="Grant a user access to edges. Open sessions pick it up at once: the "
        "cloud closes their sockets and the dashboard refreshes its token.",
    )
    grant.add_argument("name", metavar="NAME", help="the username")
    grant.add_argument("edge_ids", nargs="+", metavar="EDGE_ID", help=edges_help)
    grant.set_defaults(func=_cmd_grant)

    ungrant = sub.add_parser(
        "revoke-grant",
        parents=[common],
        help="take edges away from a user",
        description="Remove a user's access to edges; tokens carrying the old grants are "
        "refused from now on.",
    )
    ungrant.add_argument("name", metavar="NAME", help="the username")
    ungrant.add_argument("edge_ids", nargs="+", metavar="EDGE_ID", help=edges_help)
    ungrant.set_defaults(func=_cmd_revoke_grant)

    listing = sub.add_parser(
        "grants",
        parents=[common],
        help="list a user's edges",
        description="Print the edges granted to a user, one a line.",
    )
    listing.add_argument("name", metavar="NAME", help="the username")
    listing.set_defaults(func=_cmd_grants)
    return auth


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ems.authsvc.cli auth …``: these commands alone, as ``ems auth …`` runs them.

    Built on :mod:`ems.commandline` rather than :func:`ems.cli.main`: the whole
    command imports this module, so importing it back would close a cycle.
    """
    from ems.commandline import new_parser, run

    parser, sub = new_parser("Energy Management System: the auth service.")
    add_auth_parser(sub)
    return run(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
