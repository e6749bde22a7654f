"""Roles and the shape of usernames and edge ids (no Django needed)."""

from __future__ import annotations

import enum
import re

from ems.authsvc.errors import InvalidEdgeId, InvalidRole, InvalidUsername

__all__ = [
    "EDGE_ID_RE",
    "USERNAME_RE",
    "Role",
    "check_edge_id",
    "check_role",
    "check_username",
]

#: The same shape as ``EdgeId`` in :mod:`ems.protocol.types` (the wire contract).
EDGE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Letters, digits and ``. _ @ + -`` (a subset of Django's default), 1 to 64 characters,
#: starting with a letter or digit: safe in logs, URLs and audit records.
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


class Role(enum.StrEnum):
    """What a user may do: ``viewer`` reads, ``operator`` also commands, ``admin`` also
    manages users, edges and keys (and is staff and superuser in the Django admin)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidRole(f"role {role!r} is not one of {allowed}") from None


def check_username(username: str) -> str:
    # fullmatch, not match: "$" would also accept a trailing newline.
    if not isinstance(username, str) or USERNAME_RE.fullmatch(username) is None:
        raise InvalidUsername(
            f"username {username!r}: 1-64 letters, digits or . _ @ + -, "
            "starting with a letter or digit"
        )
    return username


def check_edge_id(edge_id: str) -> str:
    if not isinstance(edge_id, str) or EDGE_ID_RE.fullmatch(edge_id) is None:
        raise InvalidEdgeId(
            f"edge id {edge_id!r}: 1-63 lowercase letters, digits or '-', "
            "starting with a letter or digit"
        )
    return edge_id
