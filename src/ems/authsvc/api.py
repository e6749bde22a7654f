"""The auth service's Python API: users, edge keys, tokens, JWKS.

Synchronous (Django ORM): call from a thread, not from a running event loop
(``await asyncio.to_thread(verify_edge_key, ...)``). Everything here needs
:func:`ems.authsvc.configure` first.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

from ems.authsvc import bootstrap, edgekeys, orgs, revocation
from ems.authsvc.errors import UnknownUser, UserExists, WeakPassword
from ems.authsvc.identity import (
    EDGE_ID_RE,
    Role,
    check_edge_id,
    check_role,
    check_username,
)
from ems.authsvc.tokens import (
    ACCESS,
    REFRESH,
    InvalidRefresh,
    decode_access,
    decode_refresh,
    issue,
    token_body,
)

if TYPE_CHECKING:
    from ems.authsvc.models import User

__all__ = [
    "InvalidRefresh",
    "alarm_recipients",
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
]

log = logging.getLogger(__name__)

#: Characters of the session digest carried by refresh tokens (64 bits of an HMAC).
SESSION_DIGEST_CHARS = 16


# --- users -------------------------------------------------------------------------------


def create_user(
    username: str,
    role: str,
    password: str,
    *,
    check_password_strength: bool = True,
    edges: list[str] | None = None,
    email: str = "",
    org: str | None = None,
) -> None:
    """Create a user; raises :class:`UserExists` if the name is taken (see
    :func:`set_password`), :class:`InvalidUsername`, :class:`InvalidRole`, or
    :class:`WeakPassword` when the password fails Django's password validators
    (``check_password_strength=False`` skips them, e.g. for a throw-away demo).
    ``edges``: the edges granted to the user (see :func:`grant_edges`); ``email``:
    where alarm notifications go (none when empty); ``org``: the organisation the
    user joins with ``role`` (``default`` when not given). In a named organisation an
    ``admin`` administers that organisation only; without one it is a superuser."""
    from django.db import IntegrityError, transaction

    from ems.authsvc.models import User

    check_username(username)
    role = check_role(role).value
    if User.objects.filter(username=username).exists():
        raise UserExists(f"user {username!r} already exists; use set-password to change it")
    _check_password(password, User(username=username), check_password_strength)
    granted = [_check_grant(e) for e in edges or ()]
    member_of = orgs.organisation(org) if org is not None else None
    # Only an admin made without an organisation spans them all (a superuser).
    global_role = Role.OPERATOR.value if member_of and role == Role.ADMIN.value else role
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username, password=password, role=global_role, email=email
            )
            orgs.add_member(user, member_of.name if member_of else orgs.default_name(), role)
            for edge_id in dict.fromkeys(granted):
                user.grants.create(edge_id=edge_id)
    except IntegrityError:  # created concurrently since the check above
        raise UserExists(f"user {username!r} already exists") from None
    log.info("user %s created with role %s", username, role)


def set_password(username: str, password: str, *, check_password_strength: bool = True) -> None:
    """Change a user's password. Refresh tokens issued before stop working."""
    from ems.authsvc.models import User

    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise UnknownUser(f"no user {username!r}") from None
    _check_password(password, user, check_password_strength)
    user.set_password(password)
    user.save(update_fields=["password"])
    log.info("password of user %s changed", username)
    revocation.revoke_sessions(user, "revoked")  # its tokens, access ones too


def _user(username: str) -> User:
    from ems.authsvc.models import User

    try:
        user: User = User.objects.get(username=username)
    except User.DoesNotExist:
        raise UnknownUser(f"no user {username!r}") from None
    return user


def revoke_user(username: str) -> float:
    """End every session of ``username`` (an admin's revoke): its tokens, refresh
    included, are refused from now on and the cloud closes its sockets. Returns the
    moment [s, Unix epoch] before which tokens are refused."""
    return revocation.revoke_sessions(_user(username), "revoked")


# --- edge grants -------------------------------------------------------------------------


def _check_grant(edge_id: str) -> str:
    from ems.authsvc.models import ALL_EDGES

    return edge_id if edge_id == ALL_EDGES else check_edge_id(edge_id)


def grant_edges(username: str, edge_ids: list[str]) -> list[str]:
    """Let ``username`` see and command ``edge_ids`` (``*``: every edge); returns the
    ones newly granted. Open sessions get the new grants at their next refresh,
    which the cloud forces by closing their sockets."""
    from django.db import transaction

    from ems.authsvc.models import EdgeGrant

    checked = [_check_grant(e) for e in edge_ids]
    user = _user(username)
    added = []
    with transaction.atomic():
        for edge_id in checked:
            _, created = EdgeGrant.objects.get_or_create(user=user, edge_id=edge_id)
            if created:
                added.append(edge_id)
    log.info("user %s granted %s", username, added or "nothing new")
    return added


def revoke_grants(username: str, edge_ids: list[str]) -> list[str]:
    """Take ``edge_ids`` away from ``username``; returns the ones it had."""
    from django.db import transaction

    from ems.authsvc.models import EdgeGrant

    checked = [_check_grant(e) for e in edge_ids]
    user = _user(username)
    removed = []
    with transaction.atomic():
        for grant in EdgeGrant.objects.filter(user=user, edge_id__in=checked):
            grant.delete()  # one by one: each delete signals the claims change
            removed.append(grant.edge_id)
    log.info("user %s lost %s", username, removed or "nothing")
    return sorted(removed)


def grants(username: str) -> list[str]:
    """The edges granted to ``username`` (an admin sees every edge regardless)."""
    user = _user(username)
    return sorted(str(g) for g in user.grants.values_list("edge_id", flat=True))


def alarm_recipients(edge_id: str, role: str) -> list[str]:
    """The e-mail addresses of the active users who have ``role`` in the organisation
    of ``edge_id`` and may see it (superusers count as admins of every one), for
    alarm notifications. Nobody of another organisation, whatever their grants."""
    from django.db.models import Q

    from ems.authsvc.models import ALL_EDGES, User

    wanted = check_role(role).value
    org = orgs.edge_organisation(edge_id)
    members = Q(memberships__organisation__name=org, memberships__role=wanted) & ~Q(
        role=Role.ADMIN.value
    )
    if wanted != Role.ADMIN.value:
        members &= Q(grants__edge_id__in=[edge_id, ALL_EDGES])
    if wanted == Role.ADMIN.value:
        members |= Q(role=Role.ADMIN.value)  # superusers
    users = User.objects.filter(members, is_active=True).exclude(email="")
    return sorted({str(u.email) for u in users})


def edge_claim(user: User) -> list[str]:
    """The ``edges`` claim of ``user``'s access tokens: ``["*"]`` for every edge (see
    :func:`ems.authsvc.orgs.edge_claim`)."""
    return orgs.edge_claim(user)[0]


def _access_claims(user: User) -> dict[str, Any]:
    edges, view = orgs.edge_claim(user)
    return {"edges": edges, "view": view} if view else {"edges": edges}


def _check_password(password: str, user: User, check_strength: bool) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if not password:
        raise WeakPassword("the password is empty")
    if check_strength:
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            raise WeakPassword(" ".join(exc.messages)) from None


# --- edge keys ---------------------------------------------------------------------------


def create_edge_key(edge_id: str, label: str = "", *, org: str | None = None) -> str:
    """A new API key for ``edge_id``; the plaintext is returned here once and never stored.
    ``org``: the organisation the edge belongs to (its present one, else ``default``,
    when not given)."""
    from ems.authsvc.models import EdgeKey, EdgeOwner

    check_edge_id(edge_id)
    if org is not None:
        orgs.set_edge_organisation(edge_id, org)
    elif not EdgeOwner.objects.filter(edge_id=edge_id).exists():
        orgs.set_edge_organisation(edge_id, orgs.default_name())
    key_id, plaintext = edgekeys.new_key()
    EdgeKey.objects.create(
        edge_id=edge_id, key_id=key_id, key_hash=edgekeys.hash_key(plaintext), label=label
    )
    log.info("edge key %s created for edge %s", key_id, edge_id)
    return plaintext


def revoke_edge_keys(edge_id: str, key_ids: list[str] | None = None) -> int:
    """Revoke the active keys of ``edge_id`` (only those of ``key_ids``, the public
    ids, when given: the old key at the end of a rotation); returns how many were
    active. A socket of the edge authenticated with one of them is closed."""
    from django.utils import timezone

    from ems.authsvc.models import EdgeKey

    check_edge_id(edge_id)
    active = EdgeKey.objects.filter(edge_id=edge_id, revoked_at__isnull=True)
    if key_ids is not None:
        active = active.filter(key_id__in=key_ids)
    revoked = [str(k) for k in active.values_list("key_id", flat=True)]
    count: int = active.update(revoked_at=timezone.now())
    revocation.publish_edge_keys(edge_id, revoked)  # its live socket closes
    audit_keys_revoked(edge_id, revoked)
    log.info("%d edge key(s) of edge %s revoked", count, edge_id)
    return count


def audit_keys_revoked(edge_id: str, key_ids: list[str]) -> None:
    from ems.authsvc import actions

    for key_id in key_ids:
        actions.record(
            "key.revoked",
            organisation=orgs.edge_organisation(edge_id),
            edge_id=edge_id,
            target=key_id,
            before={"active": True},
            after={"active": False},
        )


def verify_edge_key(edge_id: str, api_key: str) -> bool:
    """Whether ``api_key`` is an active key of ``edge_id`` (untrusted input: never raises)."""
    from ems.authsvc.models import EdgeKey

    key_id = edgekeys.parse_key(api_key)
    if key_id is None or EDGE_ID_RE.fullmatch(edge_id) is None:
        return False
    stored = (
        EdgeKey.objects.filter(edge_id=edge_id, key_id=key_id, revoked_at__isnull=True)
        .values_list("key_hash", flat=True)
        .first()
    )
    return stored is not None and edgekeys.key_matches(api_key, stored)


# --- tokens ------------------------------------------------------------------------------


def authenticate_tokens(username: str, password: str) -> dict[str, Any] | None:
    """The body of ``POST /auth/token`` for good credentials of an active user, else ``None``."""
    from django.contrib.auth import authenticate

    user = authenticate(None, username=username, password=password)
    if user is None:
        return None
    key, policy = bootstrap.signing_key(), bootstrap.token_policy()
    now_s = time.time()
    username, role, uid = str(user.username), orgs.claim_role(user), int(user.pk)
    access = issue(
        key,
        policy,
        typ=ACCESS,
        username=username,
        role=role,
        uid=uid,
        now_s=now_s,
        extra=_access_claims(user),
    )
    refresh = issue(
        key,
        policy,
        typ=REFRESH,
        username=username,
        role=role,
        uid=uid,
        now_s=now_s,
        extra={"sv": _session_digest(user)},
    )
    return token_body(policy, access=access, refresh=refresh, username=username, role=role)


def refresh_tokens(refresh_token: str) -> dict[str, Any]:
    """A new access token for a valid refresh token (returned unchanged: sessions end
    when it expires). Raises :class:`InvalidRefresh` for access tokens, expired or
    forged tokens, deactivated or deleted users, and after a password change."""
    from ems.authsvc.models import User

    key, policy = bootstrap.signing_key(), bootstrap.token_policy()
    claims = decode_refresh(key, policy, refresh_token)
    user = User.objects.filter(pk=claims["uid"], username=claims["sub"]).first()
    if user is None or not user.is_active:
        raise InvalidRefresh("user unknown or deactivated")
    if not hmac.compare_digest(str(claims.get("sv", "")), _session_digest(user)):
        raise InvalidRefresh("password changed since the token was issued")
    _refuse_revoked(claims, revocation.sessions_revoked_before_s(user))
    access = issue(
        key,
        policy,
        typ=ACCESS,
        username=user.username,
        role=orgs.claim_role(user),  # the current role and grants: changes apply at refresh
        uid=user.pk,
        now_s=time.time(),
        extra=_access_claims(user),
    )
    return token_body(
        policy,
        access=access,
        refresh=refresh_token,
        username=user.username,
        role=orgs.claim_role(user),
    )


def _refuse_revoked(claims: dict[str, Any], before_s: float | None) -> None:
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise InvalidRefresh("invalid token: bad iat")
    if before_s is not None and iat < before_s:
        raise InvalidRefresh("session revoked")


def logout(access_token: str | None, refresh_token: str | None) -> str:
    """``POST /auth/logout``: end every session of the user named by a valid access
    token or refresh token (either will do); returns the username. Raises
    :class:`InvalidRefresh` when neither is a valid, unrevoked token of an active user."""
    from ems.authsvc.models import User

    key, policy = bootstrap.signing_key(), bootstrap.token_policy()
    claims: dict[str, Any] | None = None
    problem = InvalidRefresh("no token")
    for token, decode in ((access_token, decode_access), (refresh_token, decode_refresh)):
        if not token:
            continue
        try:
            claims = decode(key, policy, token)
            break
        except InvalidRefresh as exc:
            problem = exc
    if claims is None:
        raise problem
    user = User.objects.filter(pk=claims["uid"], username=claims["sub"]).first()
    if user is None or not user.is_active:
        raise InvalidRefresh("user unknown or deactivated")
    _refuse_revoked(claims, revocation.sessions_revoked_before_s(user))
    revocation.revoke_sessions(user, "logout")
    return str(user.username)


def _session_digest(user: User) -> str:
    # An HMAC of the password hash (Django's session hash): it changes with the password.
    digest: str = user.get_session_auth_hash()
    return digest[:SESSION_DIGEST_CHARS]


def jwks() -> dict[str, Any]:
    """The public JSON Web Key Set (``GET /auth/jwks.json``)."""
    return bootstrap.signing_key().jwks()


def issuer() -> str:
    return bootstrap.token_policy().issuer


def audience() -> str:
    return bootstrap.token_policy().audience
