"""Users (with a role) and edge API keys. Import only after ``ems.authsvc.configure()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models

from ems.authsvc import revocation
from ems.authsvc.identity import EDGE_ID_RE, Role

#: A grant of this edge id gives access to every edge, present and future.
ALL_EDGES = "*"

#: The organisation existing installs migrate into, and new users and edges join when
#: none is named (DESIGN 16).
DEFAULT_ORGANISATION = "default"

__all__ = [
    "ALL_EDGES",
    "DEFAULT_ORGANISATION",
    "AuditEntry",
    "EdgeGrant",
    "EdgeKey",
    "EdgeOwner",
    "Membership",
    "Organisation",
    "ProvisionedEdge",
    "User",
]

ROLE_CHOICES = [(role.value, role.value.capitalize()) for role in Role]


class EmsUserManager(UserManager):
    """``createsuperuser`` makes an ``admin`` (the role decides the Django flags)."""

    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        extra["role"] = Role.ADMIN.value
        return self.create_user(username, email, password, **extra)  # type: ignore[no-any-return]


class User(AbstractUser):
    """A person who signs in. ``role`` is the source of truth: ``admin`` makes the user
    staff and superuser in the Django admin, any other role removes both."""

    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default=Role.VIEWER.value)
    sessions_revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Logout or an admin's revoke: every token issued before is refused, "
        "refresh tokens included.",
    )
    claims_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Role, grants or activity changed: access tokens issued before are "
        "refused (a refresh gives one with the new claims).",
    )

    objects = EmsUserManager()

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        role_changed = False
        if self.pk is not None and (
            update_fields is None or {"role", "is_active"} & set(update_fields)
        ):
            before = type(self).objects.filter(pk=self.pk).values("role", "is_active").first()
            role_changed = before is not None and before["role"] != self.role
            role_before = None if before is None else before["role"]
            if before is not None and (before["role"], before["is_active"]) != (
                self.role,
                self.is_active,
            ):
                revocation.claims_changed(self, save=False)
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "claims_changed_at"}
        if role_changed:  # the role of installs before organisations is the default one's
            Membership.objects.filter(user=self, organisation__name=DEFAULT_ORGANISATION).update(
                role=self.role
            )
        is_admin = self.role == Role.ADMIN.value
        # An organisation's admin manages that organisation in the Django admin (staff)
        # without spanning every organisation (superuser).
        self.is_staff = is_admin or (
            self.pk is not None
            and Membership.objects.filter(user_id=self.pk, role=Role.ADMIN.value).exists()
        )
        self.is_superuser = is_admin
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        created = self.pk is None
        super().save(*args, **kwargs)
        if created or role_changed:
            from ems.authsvc import actions

            org = self.memberships.values_list("organisation__name", flat=True).first()
            actions.record(
                "user.created" if created else "user.role_changed",
                organisation=org,
                target=str(self.username),
                before=None if created else {"role": role_before},
                after={"role": self.role},
            )


class EdgeKey(models.Model):
    """One API key of an edge; the plaintext is never stored (see :mod:`ems.authsvc.edgekeys`).

    An edge may have several active keys at once, so a key can be rotated without
    downtime: create the new one, deploy it, then revoke the old one.
    """

    edge_id = models.CharField(
        max_length=63, validators=[RegexValidator(EDGE_ID_RE)], help_text="e.g. site-1"
    )
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256, hex")
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("edge_id", "-created_at")
        indexes = (models.Index(fields=("edge_id", "key_id"), name="emsauth_edgekey_lookup"),)
        verbose_name = "edge API key"

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.edge_id} ems_{self.key_id}_… ({state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EdgeGrant(models.Model):
    """``user`` may see and (with a commanding role) command ``edge_id``; ``*`` means
    every edge. Admins see every edge without grants. A change takes effect at the
    user's next token refresh, which the change forces (see :mod:`ems.authsvc.revocation`).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    edge_id = models.CharField(
        max_length=63,
        validators=[RegexValidator(rf"{EDGE_ID_RE.pattern}|^\*$")],
        help_text="e.g. site-1, or * for every edge",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("user", "edge_id")
        constraints = (
            models.UniqueConstraint(fields=("user", "edge_id"), name="emsauth_grant_unique"),
        )
        verbose_name = "edge grant"

    def __str__(self) -> str:
        return f"{self.user.username} → {self.edge_id}"


class ProvisionedEdge(models.Model):
    """An edge as provisioned in bulk (``ems auth import-edges``): where it is and what
    it is called. Its keys are :class:`EdgeKey` rows with the same ``edge_id``.

    ``organisation`` is a label until organisations exist as a model (DESIGN 16); it
    names the organisation the edge will move into then. ``site`` groups edges of one
    place; ``profile`` lists the device profiles the edge is expected to have.
    """

    edge_id = models.CharField(
        max_length=63, unique=True, validators=[RegexValidator(EDGE_ID_RE)], help_text="e.g. site-1"
    )
    organisation = models.CharField(max_length=63, validators=[RegexValidator(EDGE_ID_RE)])
    site = models.CharField(max_length=63, validators=[RegexValidator(EDGE_ID_RE)])
    name = models.CharField(max_length=100)
    latitude_deg = models.FloatField(help_text="WGS 84, -90 to 90")
    longitude_deg = models.FloatField(help_text="WGS 84, -180 to 180")
    profile = models.CharField(
        max_length=200,
        blank=True,
        help_text="device profiles, ';'-separated, e.g. battery;pv_inverter",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("organisation", "site", "edge_id")
        verbose_name = "provisioned edge"

    def __str__(self) -> str:
        return f"{self.edge_id} ({self.organisation}/{self.site})"


class Organisation(models.Model):
    """A tenant: its users, sites, edges and keys are invisible to every other one."""

    name = models.CharField(
        max_length=63, unique=True, validators=[RegexValidator(EDGE_ID_RE)], help_text="e.g. acme"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return str(self.name)


class Membership(models.Model):
    """``user`` belongs to ``organisation`` with ``role`` there (one role per organisation).

    ``admin`` sees every edge of the organisation and manages its users and keys;
    ``viewer`` and ``operator`` see the organisation's edges they are granted.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default=Role.VIEWER.value)

    class Meta:
        ordering = ("organisation", "user")
        constraints = (
            models.UniqueConstraint(
                fields=("user", "organisation"), name="emsauth_membership_unique"
            ),
        )

    def __str__(self) -> str:
        return f"{self.user.username} in {self.organisation.name} ({self.role})"


class EdgeOwner(models.Model):
    """The organisation ``edge_id`` belongs to. An edge id without a row belongs to
    :data:`DEFAULT_ORGANISATION` (edges named before organisations existed)."""

    edge_id = models.CharField(
        max_length=63, unique=True, validators=[RegexValidator(EDGE_ID_RE)], help_text="e.g. site-1"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="edges")

    class Meta:
        ordering = ("organisation", "edge_id")
        verbose_name = "edge of an organisation"

    def __str__(self) -> str:
        return f"{self.edge_id} ({self.organisation.name})"


class AuditEntry(models.Model):
    """One user action (see :class:`ems.audit.ActionRecord`), kept for ``GET /api/audit``.
    ``organisation`` decides who may read it: that organisation's admins (empty: only
    superusers, e.g. a superuser created)."""

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=40, db_index=True)
    actor = models.CharField(max_length=150)
    organisation = models.CharField(max_length=63, blank=True, db_index=True)
    edge_id = models.CharField(max_length=63, blank=True)
    target = models.CharField(max_length=150, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.kind} {self.target}"
