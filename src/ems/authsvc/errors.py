"""Errors of the auth service; all are :class:`ems.errors.EmsError`, so the CLI reports them."""

from __future__ import annotations

from ems.errors import EmsError

__all__ = [
    "AuthConfigError",
    "AuthServiceError",
    "InvalidEdgeId",
    "InvalidRole",
    "InvalidUsername",
    "OrganisationExists",
    "UnknownOrganisation",
    "UnknownUser",
    "UserExists",
    "WeakPassword",
]


class AuthServiceError(EmsError):
    """Base of the auth service's errors."""


class AuthConfigError(AuthServiceError):
    """The service cannot start: bad settings, unreadable key files, configured twice."""


class InvalidUsername(AuthServiceError, ValueError):
    """A username that does not match :data:`ems.authsvc.identity.USERNAME_RE`."""


class InvalidRole(AuthServiceError, ValueError):
    """A role other than ``viewer``, ``operator`` or ``admin``."""


class InvalidEdgeId(AuthServiceError, ValueError):
    """An edge id that does not match :data:`ems.authsvc.identity.EDGE_ID_RE`."""


class UserExists(AuthServiceError):
    """``create_user`` for a name that is taken; use ``set_password`` to change a password."""


class UnknownUser(AuthServiceError, LookupError):
    """No user by that name."""


class WeakPassword(AuthServiceError, ValueError):
    """The password fails the configured password validators; the message says why."""


class UnknownOrganisation(AuthServiceError, LookupError):
    """No organisation by that name."""


class OrganisationExists(AuthServiceError):
    """``create_org`` for a name that is taken."""
