"""What an organisation's admin may reach in the Django admin: their organisations'
users, edges and keys, nothing else. A superuser reaches everything.

Django's own permissions are not used (the role decides, DESIGN 16): an organisation
admin is staff without being superuser, so every model admin here answers the
permission questions from the memberships, and narrows its queryset. Something of
another organisation is then absent from the queryset, so the admin answers for it
exactly as for an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from ems.authsvc.identity import Role

__all__ = ["OrgScoped", "admin_org_ids", "edge_ids_of"]


def admin_org_ids(request: HttpRequest) -> list[int] | None:
    """The organisations ``request``'s user administers; ``None``: every one (superuser)."""
    from ems.authsvc.models import Membership

    user: Any = request.user
    if not user.is_active:
        return []
    if user.is_superuser:
        return None
    return list(
        Membership.objects.filter(user_id=user.pk, role=Role.ADMIN.value).values_list(
            "organisation_id", flat=True
        )
    )


def edge_ids_of(org_ids: list[int]) -> QuerySet[Any]:
    from ems.authsvc.models import EdgeOwner

    return EdgeOwner.objects.filter(organisation_id__in=org_ids).values("edge_id")


class OrgScoped:
    """A mixin for ``ModelAdmin``: permissions from the memberships, and :meth:`scope`
    narrowing the queryset to the administered organisations."""

    def scope(self, queryset: QuerySet[Any], org_ids: list[int]) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        org_ids = admin_org_ids(request)
        return queryset if org_ids is None else self.scope(queryset, org_ids)

    def _may(self, request: HttpRequest) -> bool:
        org_ids = admin_org_ids(request)
        return org_ids is None or bool(org_ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)
