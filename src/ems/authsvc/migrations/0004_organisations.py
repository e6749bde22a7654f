"""Organisations (DESIGN 16). Existing installs move whole into ``default``: every user
becomes a member with the role they had, every edge the service knows of (keys,
provisioned edges, grants) is owned by it, and every organisation label of a
provisioned edge becomes an organisation."""

import re

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

DEFAULT = "default"
_SLUG = re.compile("^[a-z0-9][a-z0-9-]{0,62}$")


def _into_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    organisation = apps.get_model("emsauth", "Organisation")
    membership = apps.get_model("emsauth", "Membership")
    edge_owner = apps.get_model("emsauth", "EdgeOwner")
    user = apps.get_model("emsauth", "User")
    edge_key = apps.get_model("emsauth", "EdgeKey")
    grant = apps.get_model("emsauth", "EdgeGrant")
    provisioned = apps.get_model("emsauth", "ProvisionedEdge")

    default, _ = organisation.objects.get_or_create(name=DEFAULT)
    by_name = {DEFAULT: default}
    for label in provisioned.objects.values_list("organisation", flat=True).distinct():
        if label not in by_name:
            by_name[label], _ = organisation.objects.get_or_create(name=label)
    membership.objects.bulk_create(
        membership(user_id=pk, organisation=default, role=role)
        for pk, role in user.objects.values_list("pk", "role")
    )
    owner = {e: by_name[o] for e, o in provisioned.objects.values_list("edge_id", "organisation")}
    for edge_id in edge_key.objects.values_list("edge_id", flat=True):
        owner.setdefault(edge_id, default)
    for edge_id in grant.objects.values_list("edge_id", flat=True):
        if _SLUG.fullmatch(edge_id):  # not the "*" grant
            owner.setdefault(edge_id, default)
    edge_owner.objects.bulk_create(
        edge_owner(edge_id=edge_id, organisation=org) for edge_id, org in owner.items()
    )


class Migration(migrations.Migration):
    dependencies = [  # noqa: RUF012 - Django's migration format
        ("emsauth", "0003_provisioned_edge"),
    ]

    operations = [  # noqa: RUF012 - Django's migration format
        migrations.CreateModel(
            name="Organisation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="e.g. acme",
                        max_length=63,
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                re.compile("^[a-z0-9][a-z0-9-]{0,62}$")
                            )
                        ],
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ("name",)},
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("viewer", "Viewer"),
                            ("operator", "Operator"),
                            ("admin", "Admin"),
                        ],
                        default="viewer",
                        max_length=16,
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="emsauth.organisation",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="emsauth.user",
                    ),
                ),
            ],
            options={
                "ordering": ("organisation", "user"),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "organisation"), name="emsauth_membership_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="EdgeOwner",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "edge_id",
                    models.CharField(
                        help_text="e.g. site-1",
                        max_length=63,
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                re.compile("^[a-z0-9][a-z0-9-]{0,62}$")
                            )
                        ],
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="edges",
                        to="emsauth.organisation",
                    ),
                ),
            ],
            options={
                "verbose_name": "edge of an organisation",
                "ordering": ("organisation", "edge_id"),
            },
        ),
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_index=True)),
                ("kind", models.CharField(db_index=True, max_length=40)),
                ("actor", models.CharField(max_length=150)),
                ("organisation", models.CharField(blank=True, db_index=True, max_length=63)),
                ("edge_id", models.CharField(blank=True, max_length=63)),
                ("target", models.CharField(blank=True, max_length=150)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
            ],
            options={"verbose_name_plural": "audit entries", "ordering": ("-at", "-id")},
        ),
        migrations.RunPython(_into_default, migrations.RunPython.noop),
    ]
