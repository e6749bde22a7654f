"""The Django admin: users with roles, edge API keys (create shows the key once; revoke),
and edges provisioned from an uploaded CSV (their keys shown once)."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from ems.authsvc import edgekeys, revocation
from ems.authsvc.admin_scope import OrgScoped, admin_org_ids, edge_ids_of
from ems.authsvc.identity import Role
from ems.authsvc.models import (
    EdgeGrant,
    EdgeKey,
    EdgeOwner,
    Membership,
    Organisation,
    ProvisionedEdge,
    User,
)

__all__ = ["EdgeKeyAdmin", "EmsUserAdmin", "ProvisionedEdgeAdmin"]

admin.site.site_header = "EMS administration"
admin.site.site_title = "EMS admin"
admin.site.index_title = "Users, roles, edge grants and edge API keys"


class EmsUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "role")


class EmsUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class EdgeGrantInline(admin.TabularInline):
    """The edges the user may see and command (``*``: every edge; admins see all)."""

    model = EdgeGrant
    extra = 1
    fields = ("edge_id", "created_at")
    readonly_fields = ("created_at",)


class MembershipInline(admin.TabularInline):
    """The organisations the user belongs to, with the role in each (superusers only:
    an organisation admin sets the role in their organisation with the role field)."""

    model = Membership
    extra = 1
    fields = ("organisation", "role")


@admin.register(User)
class EmsUserAdmin(OrgScoped, UserAdmin):
    form = EmsUserChangeForm
    add_form = EmsUserCreationForm
    inlines = (EdgeGrantInline,)
    actions = ("revoke_sessions",)
    # Groups and per-user permissions are not used: the role decides (admin ⇒ superuser).
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active", "is_staff", "is_superuser")}),
        (
            "Important dates",
            {
                "fields": (
                    "last_login",
                    "date_joined",
                    "sessions_revoked_at",
                    "claims_changed_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "role", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = (
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
        "sessions_revoked_at",
        "claims_changed_at",
    )
    list_display = ("username", "role", "edges", "is_active", "last_login")
    list_filter = ("role", "is_active")
    filter_horizontal = ()

    def get_inlines(self, request: HttpRequest, obj: User | None) -> Any:
        if obj is None:
            return ()  # grants once the user exists
        return (*self.inlines, MembershipInline) if request.user.is_superuser else self.inlines

    def scope(self, queryset: Any, org_ids: list[int]) -> Any:
        # Superusers span every organisation: no organisation admin manages one.
        return (
            queryset.filter(memberships__organisation_id__in=org_ids)
            .exclude(role=Role.ADMIN.value)
            .distinct()
        )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        org_ids = admin_org_ids(request)
        if org_ids is None:
            super().save_model(request, obj, form, change)
            return
        # An organisation admin gives a role in their organisation, never the global
        # one (global admin is superuser): the global role stays what it was.
        wanted = obj.role
        before = User.objects.filter(pk=obj.pk).values_list("role", flat=True).first()
        obj.role = before if change and before is not None else Role.VIEWER.value
        super().save_model(request, obj, form, change)
        org_id = (
            Membership.objects.filter(user=obj, organisation_id__in=org_ids)
            .values_list("organisation_id", flat=True)
            .first()
            or org_ids[0]
        )
        Membership.objects.update_or_create(
            user=obj, organisation_id=org_id, defaults={"role": wanted}
        )
        obj.save()  # staff follows an admin membership
        revocation.claims_changed(obj)

    @admin.display(description="edges")
    def edges(self, obj: User) -> str:
        if obj.role == "admin":
            return "all (admin)"
        return ", ".join(g.edge_id for g in obj.grants.all()) or "none"

    @admin.action(description="End the selected users' sessions (sign them out everywhere)")
    def revoke_sessions(self, request: HttpRequest, queryset: Any) -> None:
        users = list(queryset)
        for user in users:
            revocation.revoke_sessions(user, "revoked")
        self.message_user(request, f"Sessions of {len(users)} user(s) ended.", messages.SUCCESS)


# Shown once, right after "Save": the only time anyone sees the key.
_KEY_CREATED = """{% extends "admin/base_site.html" %}
{% block content %}
<h1>New API key for edge {{ key.edge_id }}</h1>
<p>Copy it now into the edge's key file. It is not stored and cannot be shown again.</p>
<p><code style="font-size: 1.2em; user-select: all">{{ plaintext }}</code></p>
<p><a href="{{ back }}">Back to the edge API keys</a></p>
{% endblock %}"""


@functools.cache
def _key_created_template() -> Any:
    return engines["django"].from_string(_KEY_CREATED)


@admin.register(EdgeKey)
class EdgeKeyAdmin(OrgScoped, admin.ModelAdmin):
    list_display = ("edge_id", "key_id", "label", "created_at", "revoked_at", "active")
    list_filter = ("edge_id", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("edge_id", "key_id", "label")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: EdgeKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("edge_id", "label")
        return ("edge_id", "key_id", "label", "created_at", "revoked_at")

    def get_readonly_fields(
        self, request: HttpRequest, obj: EdgeKey | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("edge_id", "key_id", "created_at", "revoked_at")

    @admin.display(boolean=True)
    def active(self, obj: EdgeKey) -> bool:
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: EdgeKey, form: Any, change: bool) -> None:
        if not change:
            obj.key_id, plaintext = edgekeys.new_key()
            obj.key_hash = edgekeys.hash_key(plaintext)
            # Kept on the request only, for response_add; never in the session or a message.
            request._ems_new_key = plaintext
            org_ids = admin_org_ids(request)
            owner = EdgeOwner.objects.filter(edge_id=obj.edge_id).first()
            if org_ids is not None and owner is not None and owner.organisation_id not in org_ids:
                # Another organisation's edge: no key is made, and nothing about it shown.
                raise PermissionDenied
            if owner is None:
                org = (
                    Organisation.objects.get_or_create(name="default")[0]
                    if not org_ids
                    else Organisation.objects.get(pk=org_ids[0])
                )
                EdgeOwner.objects.create(edge_id=obj.edge_id, organisation=org)
        super().save_model(request, obj, form, change)

    def scope(self, queryset: Any, org_ids: list[int]) -> Any:
        return queryset.filter(edge_id__in=edge_ids_of(org_ids))

    def response_add(
        self, request: HttpRequest, obj: EdgeKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        plaintext = getattr(request, "_ems_new_key", None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "key": obj,
            "plaintext": plaintext,
            "back": reverse("admin:emsauth_edgekey_changelist"),
        }
        response = HttpResponse(_key_created_template().render(context, request))
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        active = queryset.filter(revoked_at__isnull=True)
        by_edge: dict[str, list[str]] = {}
        for edge_id, key_id in active.values_list("edge_id", "key_id"):
            by_edge.setdefault(edge_id, []).append(key_id)
        count = active.update(revoked_at=timezone.now())
        from ems.authsvc.api import audit_keys_revoked

        for edge_id, key_ids in by_edge.items():
            revocation.publish_edge_keys(edge_id, key_ids)  # its live socket closes
            audit_keys_revoked(edge_id, key_ids)
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)


@admin.register(ProvisionedEdge)
class ProvisionedEdgeAdmin(OrgScoped, admin.ModelAdmin):
    """Edges from a CSV import, listed and searchable, read-only here. "Add" is the
    upload of such a CSV (:mod:`ems.authsvc.edge_upload`), the admin's
    ``ems auth import-edges``: edges and keys are made together, all or nothing."""

    list_display = ("edge_id", "name", "organisation", "site", "latitude_deg", "longitude_deg")
    list_filter = ("organisation", "site")
    search_fields = ("edge_id", "name", "site")

    def scope(self, queryset: Any, org_ids: list[int]) -> Any:
        return queryset.filter(edge_id__in=edge_ids_of(org_ids))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        from ems.authsvc.edge_upload import upload_view

        return upload_view(request, self.admin_site.each_context(request))


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Organisations are made and named by superusers (``ems auth create-org``)."""

    list_display = ("name", "created_at")
    search_fields = ("name",)
