"""Users and roles through the Python API."""

from __future__ import annotations

import pytest

import ems.authsvc
from ems.authsvc.errors import InvalidRole, InvalidUsername, UnknownUser, UserExists, WeakPassword
from ems.errors import EmsError

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    ("role", "staff"), [("viewer", False), ("operator", False), ("admin", True)]
)
def test_each_role_can_be_created(role: str, staff: bool) -> None:
    from ems.authsvc.models import User

    ems.authsvc.create_user("olga", role, PASSWORD)
    olga = User.objects.get(username="olga")
    assert olga.role == role
    assert olga.is_staff is staff
    assert olga.is_superuser is staff
    assert olga.is_active
    assert olga.check_password(PASSWORD)
    assert PASSWORD not in olga.password


def test_tokens_carry_the_role() -> None:
    ems.authsvc.create_user("vera", "viewer", PASSWORD)
    body = ems.authsvc.authenticate_tokens("vera", PASSWORD)
    assert body is not None
    assert (body["user"], body["role"]) == ("vera", "viewer")
    assert ems.authsvc.authenticate_tokens("vera", "not the password") is None
    assert ems.authsvc.authenticate_tokens("nobody", PASSWORD) is None


@pytest.mark.parametrize("role", ["root", "Admin", "", "superuser"])
def test_an_invalid_role_is_refused(role: str) -> None:
    from ems.authsvc.models import User

    with pytest.raises(InvalidRole, match="viewer, operator, admin"):
        ems.authsvc.create_user("olga", role, PASSWORD)
    assert not User.objects.filter(username="olga").exists()


@pytest.mark.parametrize(
    "username", ["", " olga", "olga ", "ol ga", "-olga", "olga\n", "a" * 65, "o/lga", "ölga"]
)
def test_an_invalid_username_is_refused(username: str) -> None:
    with pytest.raises(InvalidUsername):
        ems.authsvc.create_user(username, "viewer", PASSWORD)


def test_a_taken_username_is_refused_with_a_hint() -> None:
    ems.authsvc.create_user("olga", "operator", PASSWORD)
    with pytest.raises(UserExists, match="set-password") as info:
        ems.authsvc.create_user("olga", "admin", "another fine passphrase")
    assert isinstance(info.value, EmsError)
    from ems.authsvc.models import User

    assert User.objects.get(username="olga").role == "operator"  # unchanged


@pytest.mark.parametrize("password", ["", "short", "12345678901234", "password123"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        ems.authsvc.create_user("olga", "viewer", password)


def test_the_strength_check_can_be_skipped_for_a_demo_but_not_emptiness() -> None:
    ems.authsvc.create_user("demo", "operator", "demo", check_password_strength=False)
    assert ems.authsvc.authenticate_tokens("demo", "demo") is not None
    with pytest.raises(WeakPassword, match="empty"):
        ems.authsvc.create_user("demo2", "operator", "", check_password_strength=False)


def test_set_password_replaces_the_password() -> None:
    ems.authsvc.create_user("olga", "operator", PASSWORD)
    ems.authsvc.set_password("olga", "another fine passphrase")
    assert ems.authsvc.authenticate_tokens("olga", PASSWORD) is None
    assert ems.authsvc.authenticate_tokens("olga", "another fine passphrase") is not None
    with pytest.raises(WeakPassword):
        ems.authsvc.set_password("olga", "olga")
    with pytest.raises(UnknownUser):
        ems.authsvc.set_password("nobody", PASSWORD)


def test_the_role_decides_the_admin_flags() -> None:
    from ems.authsvc.models import User

    ems.authsvc.create_user("olga", "operator", PASSWORD)
    olga = User.objects.get(username="olga")
    olga.role = "admin"
    olga.save(update_fields=["role"])
    olga.refresh_from_db()
    assert (olga.is_staff, olga.is_superuser) == (True, True)
    olga.is_superuser = True  # a stray flag does not outlive a save
    olga.role = "viewer"
    olga.save()
    olga.refresh_from_db()
    assert (olga.is_staff, olga.is_superuser) == (False, False)


def test_createsuperuser_makes_an_admin() -> None:
    from ems.authsvc.models import User

    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    root = User.objects.get(username="root")
    assert (root.role, root.is_staff, root.is_superuser) == ("admin", True, True)


def test_issuer_audience_and_jwks() -> None:
    assert ems.authsvc.issuer() == "ems-auth"
    assert ems.authsvc.audience() == "ems-cloud"
    [jwk] = ems.authsvc.jwks()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
