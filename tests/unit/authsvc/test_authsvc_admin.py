"""The Django admin (through Django's test client): who gets in, keys shown once, revocation."""

from __future__ import annotations

import re

import pytest
from django.test import Client

import ems.authsvc

PASSWORD = "correct horse battery staple"
KEY_RE = re.compile(r"ems_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _client_for(username: str, role: str) -> Client:
    from ems.authsvc.models import User

    ems.authsvc.create_user(username, role, PASSWORD)
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


@pytest.fixture
def admin_client() -> Client:
    return _client_for("ada", "admin")


def test_an_admin_sees_users_and_keys(admin_client: Client) -> None:
    index = admin_client.get("/auth/admin/")
    assert index.status_code == 200
    assert b"/auth/admin/emsauth/edgekey/" in index.content
    assert b"/auth/admin/emsauth/user/" in index.content
    users = admin_client.get("/auth/admin/emsauth/user/")
    assert users.status_code == 200
    assert b"ada" in users.content


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_other_roles_are_sent_to_the_login_page(role: str) -> None:
    client = _client_for("olga", role)
    response = client.get("/auth/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/admin/login/")


def test_the_login_form_logs_an_admin_in() -> None:
    ems.authsvc.create_user("ada", "admin", PASSWORD)
    client = Client(enforce_csrf_checks=True)
    page = client.get("/auth/admin/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token is not None
    response = client.post(
        "/auth/admin/login/",
        {"username": "ada", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()},
    )
    assert response.status_code == 302
    assert response["Location"] == "/auth/admin/"
    assert client.get("/auth/admin/").status_code == 200


def test_adding_a_key_in_the_admin_shows_it_once(admin_client: Client) -> None:
    from ems.authsvc.models import EdgeKey

    form = admin_client.get("/auth/admin/emsauth/edgekey/add/")
    assert form.status_code == 200
    assert b'name="edge_id"' in form.content
    assert b'name="key_hash"' not in form.content
    response = admin_client.post(
        "/auth/admin/emsauth/edgekey/add/", {"edge_id": "site-7", "label": "from the admin"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = KEY_RE.search(response.content.decode())
    assert match is not None
    key = match.group(0)
    assert ems.authsvc.verify_edge_key("site-7", key)
    row = EdgeKey.objects.get(edge_id="site-7")
    assert row.label == "from the admin"
    # Never again: not on the key's page, not in the list.
    for page in ("/auth/admin/emsauth/edgekey/", f"/auth/admin/emsauth/edgekey/{row.pk}/change/"):
        content = admin_client.get(page).content.decode()
        assert key not in content
        assert key.split("_", 2)[2] not in content


def test_the_admin_refuses_a_bad_edge_id(admin_client: Client) -> None:
    from ems.authsvc.models import EdgeKey

    response = admin_client.post("/auth/admin/emsauth/edgekey/add/", {"edge_id": "Bad Id"})
    assert response.status_code == 200  # the form again, with an error
    assert b"errorlist" in response.content
    assert not EdgeKey.objects.exists()


def test_the_revoke_action_revokes_the_selected_keys(admin_client: Client) -> None:
    from ems.authsvc.models import EdgeKey

    old = ems.authsvc.create_edge_key("site-1", label="old")
    new = ems.authsvc.create_edge_key("site-1", label="new")
    old_row = EdgeKey.objects.get(label="old")
    response = admin_client.post(
        "/auth/admin/emsauth/edgekey/",
        {"action": "revoke", "_selected_action": [str(old_row.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"1 key(s) revoked." in response.content
    assert not ems.authsvc.verify_edge_key("site-1", old)
    assert ems.authsvc.verify_edge_key("site-1", new)


def test_an_admin_can_create_a_user_with_a_role(admin_client: Client) -> None:
    from ems.authsvc.models import User

    response = admin_client.post(
        "/auth/admin/emsauth/user/add/",
        {
            "username": "otto",
            "role": "operator",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    otto = User.objects.get(username="otto")
    assert otto.role == "operator"
    assert not otto.is_staff
    assert ems.authsvc.authenticate_tokens("otto", PASSWORD) is not None
