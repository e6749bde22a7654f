"""The auth service (Django): users and roles, edge API keys, JWTs, JWKS, the admin.

Start it with :func:`configure` (once per process), then serve :func:`asgi_app`
alone or mounted at ``/auth``, or use the Python API (:mod:`ems.authsvc.api`).

URLs (all under ``/auth/``): ``POST token``, ``POST token/refresh``,
``POST logout``, ``GET jwks.json``, ``POST edge-keys/check`` (for clouds holding
``EMS_AUTH_SERVICE_TOKEN``), ``GET healthz``, the Django admin at ``admin/``.

Environment (read once, at :func:`configure`): ``EMS_ALLOWED_HOSTS``,
``EMS_CSRF_TRUSTED_ORIGINS``, ``EMS_AUTH_SECURE_COOKIES``, ``EMS_JWT_ISSUER``,
``EMS_JWT_AUDIENCE``, ``EMS_JWT_ACCESS_TTL_S``, ``EMS_JWT_REFRESH_TTL_S``,
``EMS_AUTH_SERVICE_TOKEN``, and
``EMS_REDIS_URL`` (where revocations are published, read at the first one; see
:mod:`ems.authsvc.revocation`).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ems.authsvc.api import (
        InvalidRefresh,
        audience,
        authenticate_tokens,
        create_edge_key,
        create_user,
        grant_edges,
        grants,
        issuer,
        jwks,
        logout,
        refresh_tokens,
        revoke_edge_keys,
        revoke_grants,
        revoke_user,
        set_password,
        verify_edge_key,
    )
    from ems.authsvc.asgi import MOUNT_PATH, asgi_app
    from ems.authsvc.bootstrap import configure, is_configured, migrate
    from ems.authsvc.errors import (
        AuthConfigError,
        AuthServiceError,
        InvalidEdgeId,
        InvalidRole,
        InvalidUsername,
        UnknownUser,
        UserExists,
        WeakPassword,
    )
    from ems.authsvc.identity import Role

__all__ = [
    "MOUNT_PATH",
    "AuthConfigError",
    "AuthServiceError",
    "InvalidEdgeId",
    "InvalidRefresh",
    "InvalidRole",
    "InvalidUsername",
    "Role",
    "UnknownUser",
    "UserExists",
    "WeakPassword",
    "asgi_app",
    "audience",
    "authenticate_tokens",
    "configure",
    "create_edge_key",
    "create_user",
    "grant_edges",
    "grants",
    "is_configured",
    "issuer",
    "jwks",
    "logout",
    "migrate",
    "refresh_tokens",
    "revoke_edge_keys",
    "revoke_grants",
    "revoke_user",
    "set_password",
    "verify_edge_key",
]

# Imported on first use, so that ``ems --help`` and ``ems.authsvc.cli`` stay quick
# (Django, PyJWT and cryptography load only when the service is used).
_EXPORTS = {
    "ems.authsvc.api": (
        "InvalidRefresh",
        "audience",
        "authenticate_tokens",
        "create_edge_key",
        "create_user",
        "grant_edges",
        "grants",
        "issuer",
        "jwks",
        "logout",
        "refresh_tokens",
        "revoke_edge_keys",
        "revoke_grants",
        "revoke_user",
        "set_password",
        "verify_edge_key",
    ),
    "ems.authsvc.asgi": ("MOUNT_PATH", "asgi_app"),
    "ems.authsvc.bootstrap": ("configure", "is_configured", "migrate"),
    "ems.authsvc.errors": (
        "AuthConfigError",
        "AuthServiceError",
        "InvalidEdgeId",
        "InvalidRole",
        "InvalidUsername",
        "UnknownUser",
        "UserExists",
        "WeakPassword",
    ),
    "ems.authsvc.identity": ("Role",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'ems.authsvc' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found directly next time
    return value
