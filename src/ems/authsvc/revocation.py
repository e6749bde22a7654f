"""Ending a user's sessions and telling every cloud process (DESIGN section 8).

Two moments per user, kept in the database (the auth service's own truth):

- ``sessions_revoked_at``: logout, an admin's revoke, a password change. Every token
  issued before is refused, refresh tokens included: the user signs in again.
- ``claims_changed_at``: the role, the edge grants or ``is_active`` changed. Access
  tokens issued before are refused; the refresh token still works and gives an
  access token with the new claims (the dashboard refreshes on close 4401).

Either way the later of the two is written to Redis (the ``revoked-users`` hash,
read by a cloud process when it starts and every few seconds) and published (the
cloud closes the user's sockets holding an older token at once), see
:mod:`ems.protocol.revocation`. Redis is ``EMS_REDIS_URL``; without it, the
embedded store of this process (``ems demo``, a cloud serving ``/auth`` itself).
A failed publish is logged, never raised: the database already holds the
revocation and refresh tokens are refused; a cloud on another Redis would only
learn of it when the access tokens expire.

Call from a thread (Django ORM), after :func:`ems.authsvc.configure`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from typing import Any, ClassVar, Protocol

from ems.protocol.revocation import (
    EdgeKeysRevoked,
    UserRevoked,
    revocations_channel,
    revoked_users_key,
)

__all__ = [
    "Revocable",
    "claims_changed",
    "publish_edge_keys",
    "publish_user",
    "revoke_sessions",
    "revoke_sessions_of_deleted",
    "revoked_before_s",
    "sessions_revoked_before_s",
    "use_redis",
]

log = logging.getLogger(__name__)


class Revocable(Protocol):
    """What revocation needs of a user: :class:`ems.authsvc.models.User` has it.

    A protocol rather than the model: the model's ``save`` calls :func:`claims_changed`,
    so this module sits below ``models`` and must not import it back.
    """

    objects: ClassVar[Any]  # the model's manager
    pk: Any
    username: Any
    sessions_revoked_at: datetime | None
    claims_changed_at: datetime | None

    def save(self, *args: Any, **kwargs: Any) -> None: ...


_lock = threading.Lock()
_url: str | None = None
_url_set = False
_client: Any = None


def use_redis(url: str | None) -> None:
    """Publish through the Redis at ``url`` (``None``: this process's embedded store)
    instead of ``EMS_REDIS_URL``; the cloud calls this with its own setting."""
    global _url, _url_set, _client
    with _lock:
        _url, _url_set, _client = url or None, True, None


def _redis() -> Any:
    global _client
    with _lock:
        if _client is None:
            url = _url if _url_set else (os.environ.get("EMS_REDIS_URL") or None)
            if url is None:
                import fakeredis

                from ems.cloud.shared.connect import embedded_server

                _client = fakeredis.FakeRedis(server=embedded_server())
            else:
                import redis

                _client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return _client


def _now() -> datetime:
    from django.utils import timezone

    now: datetime = timezone.now()
    return now


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def revoked_before_s(user: Revocable) -> float | None:
    """Access tokens of ``user`` issued before this [s, Unix epoch] are refused."""
    moments = [m for m in (user.sessions_revoked_at, user.claims_changed_at) if m is not None]
    return max(moments).timestamp() if moments else None


def sessions_revoked_before_s(user: Revocable) -> float | None:
    """Refresh tokens of ``user`` issued before this [s, Unix epoch] are refused."""
    return _seconds(user.sessions_revoked_at)


def revoke_sessions(user: Revocable, why: str = "revoked") -> float:
    """End every session of ``user`` (``why``: ``logout`` or ``revoked``); returns the
    moment [s, Unix epoch] before which their tokens are refused."""
    user.sessions_revoked_at = _now()
    user.save(update_fields=["sessions_revoked_at"])
    _announce(user, why)
    log.info("sessions of user %s revoked (%s)", user.username, why)
    before = revoked_before_s(user)
    assert before is not None
    return before


def revoke_sessions_of_deleted(user: Revocable) -> None:
    """``user`` is being deleted: the cloud refuses its tokens from now on."""
    user.sessions_revoked_at = _now()
    _announce(user, "revoked")


def claims_changed(user: Revocable, *, save: bool = True) -> None:
    """``user``'s role, grants or activity changed: access tokens issued until now are
    refused, and the cloud closes the user's sockets so the dashboard refreshes."""
    user.claims_changed_at = _now()
    if save:  # an update, not save(): the user may be on its way out (grants cascade)
        type(user).objects.filter(pk=user.pk).update(claims_changed_at=user.claims_changed_at)
    _announce(user, "claims_changed")


def _announce(user: Revocable, why: str) -> None:
    from django.db import transaction

    username = str(user.username)
    before = revoked_before_s(user)
    if before is None:
        return
    # After the commit: a cloud that reloads on the message must find it stored.
    transaction.on_commit(lambda: publish_user(UserRevoked(username, before, why)))


def publish_user(message: UserRevoked) -> None:
    try:
        pipe = _redis().pipeline(transaction=False)
        # "<before_s> <why>": a cloud that learns of it by reloading the hash, before the
        # message arrives, closes the sockets with the same reason the message gives.
        stored = f"{message.before_s!r} {message.why}"
        pipe.hset(revoked_users_key(), message.username, stored)
        pipe.publish(revocations_channel(), message.encode())
        pipe.execute()
    except Exception as exc:  # the database holds it; see the module docstring
        log.error("revocation of %s not published to the cloud: %r", message.username, exc)


def publish_edge_keys(edge_id: str, key_ids: list[str]) -> None:
    """Tell the cloud processes to close ``edge_id``'s socket if it used one of ``key_ids``."""
    if not key_ids:
        return
    from django.db import transaction

    message = EdgeKeysRevoked(edge_id, tuple(key_ids))

    def publish() -> None:
        try:
            _redis().publish(revocations_channel(), message.encode())
        except Exception as exc:
            log.error("revocation of keys of edge %s not published: %r", edge_id, exc)

    transaction.on_commit(publish)
