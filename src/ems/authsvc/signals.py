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
        added = kwargs.get("created", False)
        if added or "created" not in kwargs:  # a save that did not add one changes nothing
            _audit_grant(user, instance.edge_id, added=added)


def _audit_grant(user: Any, edge_id: str, *, added: bool) -> None:
    from ems.authsvc import actions, orgs
    from ems.authsvc.models import ALL_EDGES

    org = (
        orgs.edge_organisation(edge_id)
        if edge_id != ALL_EDGES
        else user.memberships.values_list("organisation__name", flat=True).first()
    )
    grant = {"edge_id": edge_id}
    actions.record(
        "grant.added" if added else "grant.removed",
        organisation=org,
        edge_id=None if edge_id == ALL_EDGES else edge_id,
        target=user.username,
        before=None if added else grant,
        after=grant if added else None,
    )


def _membership_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    from ems.authsvc import actions

    actions.record(
        "member.added" if created else "member.changed",
        organisation=instance.organisation.name,
        target=instance.user.username,
        before=None if created else {"role": getattr(instance, "_ems_role_before", None)},
        after={"role": instance.role},
    )


def _membership_before(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ems.authsvc.models import Membership

    if instance.pk is not None:
        instance._ems_role_before = (
            Membership.objects.filter(pk=instance.pk).values_list("role", flat=True).first()
        )


def _key_created(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    from ems.authsvc import actions, orgs

    actions.record(
        "key.created",
        organisation=orgs.edge_organisation(instance.edge_id),
        edge_id=instance.edge_id,
        target=instance.key_id,
        after={"key_id": instance.key_id, "label": instance.label},
    )


def _membership_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from ems.authsvc import actions
    from ems.authsvc.models import Organisation, User

    user = User.objects.filter(pk=instance.user_id).first()
    org = Organisation.objects.filter(pk=instance.organisation_id).first()
    actions.record(
        "member.removed",
        organisation=None if org is None else org.name,
        target=None if user is None else user.username,
        before={"role": instance.role},
    )
    if user is not None:
        user.save()  # no longer staff without an admin membership
        revocation.claims_changed(user)


def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revocation.revoke_sessions_of_deleted(instance)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

    from ems.authsvc.models import EdgeGrant, EdgeKey, Membership, User

    post_save.connect(_grant_changed, sender=EdgeGrant, dispatch_uid="ems-grant-saved")
    post_delete.connect(_grant_changed, sender=EdgeGrant, dispatch_uid="ems-grant-deleted")
    pre_save.connect(_membership_before, sender=Membership, dispatch_uid="ems-member-before")
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="ems-member-saved")
    post_save.connect(_key_created, sender=EdgeKey, dispatch_uid="ems-key-created")
    post_delete.connect(
        _membership_deleted, sender=Membership, dispatch_uid="ems-membership-deleted"
    )
    pre_delete.connect(_user_deleted, sender=User, dispatch_uid="ems-user-deleted")
