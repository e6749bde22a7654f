"""The Django admin for an organisation's admin: their users, edges and keys only;
another organisation's answer exactly as ids that do not exist."""

from __future__ import annotations

import pytest
from django.test import Client

import ems.authsvc
from ems.authsvc import orgs

PASSWORD = "correct horse battery staple"


@pytest.fixture
def acme_admin() -> Client:
    from ems.authsvc.models import User

    orgs.create_org("acme")
    orgs.create_org("bolt")
    ems.authsvc.create_edge_key("a-1", org="acme")
    ems.authsvc.create_edge_key("b-1", org="bolt")
    for name, role, org in (
        ("alice", "admin", "acme"),
        ("anna", "viewer", "acme"),
        ("bob", "admin", "bolt"),
        ("bert", "operator", "bolt"),
        ("root", "admin", None),
    ):
        ems.authsvc.create_user(name, role, PASSWORD, org=org, check_password_strength=False)
    client = Client()
    client.force_login(User.objects.get(username="alice"))
    return client


def _pk(username: str) -> int:
    from ems.authsvc.models import User

    return int(User.objects.get(username=username).pk)


def test_the_user_list_shows_only_the_own_organisation(acme_admin: Client) -> None:
    page = acme_admin.get("/auth/admin/emsauth/user/")
    assert page.status_code == 200
    assert b"anna" in page.content
    for other in (b"bob", b"bert", b"root"):
        assert other not in page.content


def test_another_organisations_user_answers_as_a_missing_one(acme_admin: Client) -> None:
    missing = acme_admin.get("/auth/admin/emsauth/user/999999/change/", follow=False)
    other = acme_admin.get(f"/auth/admin/emsauth/user/{_pk('bert')}/change/", follow=False)
    assert (other.status_code, other["Location"]) == (missing.status_code, missing["Location"])
    own = acme_admin.get(f"/auth/admin/emsauth/user/{_pk('anna')}/change/")
    assert own.status_code == 200


def test_another_organisations_user_cannot_be_changed_or_deleted(acme_admin: Client) -> None:
    from ems.authsvc.models import User

    bert = _pk("bert")
    change = acme_admin.post(
        f"/auth/admin/emsauth/user/{bert}/change/", {"username": "hacked", "role": "viewer"}
    )
    missing = acme_admin.post(
        "/auth/admin/emsauth/user/999999/change/", {"username": "hacked", "role": "viewer"}
    )
    assert change.status_code == missing.status_code == 302
    acme_admin.post(
        "/auth/admin/emsauth/user/",
        {"action": "delete_selected", "_selected_action": [str(bert)], "post": "yes"},
    )
    assert User.objects.get(pk=bert).username == "bert"
    assert acme_admin.get(f"/auth/admin/emsauth/user/{bert}/delete/").status_code == 302


def test_keys_of_another_organisation_are_not_listed(acme_admin: Client) -> None:
    page = acme_admin.get("/auth/admin/emsauth/edgekey/")
    assert page.status_code == 200
    assert b"a-1" in page.content and b"b-1" not in page.content


def test_an_org_admin_cannot_make_a_superuser(acme_admin: Client) -> None:
    from ems.authsvc.models import Membership, User

    anna = _pk("anna")
    page = acme_admin.get(f"/auth/admin/emsauth/user/{anna}/change/")
    assert page.status_code == 200
    form = {
        "username": "anna",
        "role": "admin",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
    }
    response = acme_admin.post(f"/auth/admin/emsauth/user/{anna}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(pk=anna)
    assert (user.role, user.is_superuser, user.is_staff) == ("viewer", False, True)
    assert Membership.objects.get(user=user).role == "admin"  # admin of acme only


def test_a_superuser_sees_everyone() -> None:
    from ems.authsvc.models import User

    orgs.create_org("bolt")
    ems.authsvc.create_user("bert", "operator", PASSWORD, org="bolt", check_password_strength=False)
    ems.authsvc.create_user("root", "admin", PASSWORD, check_password_strength=False)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    page = client.get("/auth/admin/emsauth/user/")
    assert b"bert" in page.content and b"root" in page.content
