"""What the database's changes mean for tokens: a grant added or removed changes the
user's claims, a deleted user's tokens must stop working. Connected in
:meth:`ems.authsvc.apps.EmsAuthConfig.ready`."""

from __future__ import annotations

from typing import Any

from ems.authsvc import revocation

__all__ = ["connect"]


def _grant_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ems.authsvc.models import User

    user = User.objects.filter(pk=instance.user_id).first()
    if user is not None:
        revocation.claims_changed(user)


def _membership_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ems.authsvc.models import User

    user = User.objects.filter(pk=instance.user_id).first()
    if user is not None:
        user.save()  # no longer staff without an admin membership
        revocation.claims_changed(user)


def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revocation.revoke_sessions_of_deleted(instance)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save, pre_delete

    from ems.authsvc.models import EdgeGrant, Membership, User

    post_save.connect(_grant_changed, sender=EdgeGrant, dispatch_uid="ems-grant-saved")
    post_delete.connect(_grant_changed, sender=EdgeGrant, dispatch_uid="ems-grant-deleted")
    post_delete.connect(
        _membership_deleted, sender=Membership, dispatch_uid="ems-membership-deleted"
    )
    pre_delete.connect(_user_deleted, sender=User, dispatch_uid="ems-user-deleted")
