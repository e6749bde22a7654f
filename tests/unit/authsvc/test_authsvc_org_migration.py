"""Migration 0004 on a database from before organisations: everything lands in ``default``."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest

import ems.authsvc

BEFORE = [("emsauth", "0003_provisioned_edge")]
AFTER = [("emsauth", "0004_organisations")]


@pytest.fixture
def executor() -> Iterator[object]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    runner = MigrationExecutor(connection)
    runner.migrate(BEFORE)
    try:
        yield runner
    finally:
        runner = MigrationExecutor(connection)
        runner.migrate(AFTER)  # the rest of the session's tests need it


def test_a_pre_organisation_database_moves_into_default(executor: object) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    user = old.get_model("emsauth", "User")
    olga = user.objects.create(username="olga", role="operator", password="!")
    ada = user.objects.create(username="ada", role="admin", password="!")
    old.get_model("emsauth", "EdgeKey").objects.create(
        edge_id="site-1", key_id="k1", key_hash="0" * 64
    )
    old.get_model("emsauth", "EdgeGrant").objects.create(user_id=olga.pk, edge_id="site-2")
    old.get_model("emsauth", "EdgeGrant").objects.create(user_id=olga.pk, edge_id="*")
    old.get_model("emsauth", "ProvisionedEdge").objects.create(
        edge_id="site-3",
        organisation="default",
        site="north",
        name="N",
        latitude_deg=0.0,
        longitude_deg=0.0,
    )

    runner = MigrationExecutor(connection)
    runner.loader.build_graph()
    runner.migrate(AFTER)

    from ems.authsvc.models import EdgeOwner, Membership, Organisation

    assert list(Organisation.objects.values_list("name", flat=True)) == ["default"]
    assert dict(Membership.objects.values_list("user__username", "role")) == {
        "olga": "operator",
        "ada": "admin",
    }
    assert dict(EdgeOwner.objects.values_list("edge_id", "organisation__name")) == {
        "site-1": "default",
        "site-2": "default",
        "site-3": "default",
    }
    # The migrated users keep what they could reach: olga's "*" grant, ada every edge.
    for name in ("olga", "ada"):
        ems.authsvc.set_password(name, "correct horse battery staple")
    for name, role, edges in (("olga", "operator", ["*"]), ("ada", "admin", ["*"])):
        body = ems.authsvc.authenticate_tokens(name, "correct horse battery staple")
        assert body is not None
        claims = jwt.decode(body["access"], options={"verify_signature": False})
        assert (claims["role"], claims["edges"]) == (role, edges)
    assert ada.pk is not None
