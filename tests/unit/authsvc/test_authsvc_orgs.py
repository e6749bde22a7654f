"""Organisations: what a user's access token names, per organisation, role and grant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest

import ems.authsvc
from ems.authsvc import orgs
from ems.authsvc.api import alarm_recipients
from ems.authsvc.errors import OrganisationExists, UnknownOrganisation

PASSWORD = "correct horse battery staple"


@pytest.fixture
def two_orgs() -> None:
    """``acme`` owns a-1 and a-2, ``bolt`` owns b-1; the default organisation d-1."""
    orgs.create_org("acme")
    orgs.create_org("bolt")
    for edge_id, org in (("a-1", "acme"), ("a-2", "acme"), ("b-1", "bolt"), ("d-1", None)):
        ems.authsvc.create_edge_key(edge_id, org=org)


def _claims(username: str) -> dict[str, Any]:
    body = ems.authsvc.authenticate_tokens(username, PASSWORD)
    assert body is not None
    claims: dict[str, Any] = jwt.decode(body["access"], options={"verify_signature": False})
    return claims


def _user(name: str, role: str, org: str | None, edges: list[str] | None = None) -> None:
    ems.authsvc.create_user(
        name, role, PASSWORD, org=org, edges=edges, check_password_strength=False
    )


@pytest.mark.usefixtures("two_orgs")
def test_an_organisation_admin_sees_its_edges_only() -> None:
    _user("alice", "admin", "acme")
    claims = _claims("alice")
    assert (claims["role"], claims["edges"]) == ("admin", ["a-1", "a-2"])
    assert "view" not in claims


@pytest.mark.usefixtures("two_orgs")
def test_a_superuser_spans_every_organisation() -> None:
    _user("root", "admin", None)
    assert _claims("root")["edges"] == ["*"]


@pytest.mark.usefixtures("two_orgs")
def test_grants_work_inside_the_organisation_and_never_across() -> None:
    _user("olga", "operator", "acme", edges=["a-1", "b-1", "d-1"])
    assert _claims("olga")["edges"] == ["a-1"]
    _user("star", "viewer", "bolt", edges=["*"])  # every edge, of bolt only
    assert _claims("star")["edges"] == ["b-1"]


@pytest.mark.usefixtures("two_orgs")
def test_one_role_per_organisation_and_view_only_edges_are_named() -> None:
    from ems.authsvc.models import User

    _user("mixed", "operator", "acme", edges=["*"])
    orgs.add_member(User.objects.get(username="mixed"), "bolt", "viewer")
    claims = _claims("mixed")
    assert claims["role"] == "operator"
    assert claims["edges"] == ["a-1", "a-2", "b-1"]
    assert claims["view"] == ["b-1"]  # the cloud refuses commands there


@pytest.mark.usefixtures("two_orgs")
def test_leaving_an_organisation_ends_its_edges_and_the_staff_flag() -> None:
    from ems.authsvc.models import Membership, User

    _user("alice", "admin", "acme")
    alice = User.objects.get(username="alice")
    assert (alice.is_staff, alice.is_superuser) == (True, False)
    before = alice.claims_changed_at
    Membership.objects.get(user=alice).delete()
    alice.refresh_from_db()
    assert alice.is_staff is False
    assert alice.claims_changed_at is not None and alice.claims_changed_at != before
    assert _claims("alice")["edges"] == []


def test_a_single_organisation_install_keeps_the_star_grant() -> None:
    _user("vic", "viewer", None, edges=["*"])
    assert _claims("vic")["edges"] == ["*"]


@pytest.mark.usefixtures("two_orgs")
def test_moving_an_edge_forces_new_claims_for_both_organisations() -> None:
    from ems.authsvc.models import User

    _user("alice", "admin", "acme")
    _user("bob", "admin", "bolt")
    stamps = dict(User.objects.values_list("username", "claims_changed_at"))
    orgs.set_edge_organisation("a-2", "bolt")
    after = dict(User.objects.values_list("username", "claims_changed_at"))
    assert after["alice"] != stamps["alice"] and after["bob"] != stamps["bob"]
    assert _claims("bob")["edges"] == ["a-2", "b-1"]


def test_bad_organisation_names_are_refused_with_the_reason() -> None:
    orgs.create_org("acme")
    with pytest.raises(OrganisationExists):
        orgs.create_org("acme")
    with pytest.raises(UnknownOrganisation, match="lowercase"):
        orgs.create_org("Not An Org")
    with pytest.raises(UnknownOrganisation, match="no organisation 'nowhere'"):
        _user("olga", "operator", "nowhere")
    from ems.authsvc.models import User

    assert not User.objects.filter(username="olga").exists()  # nothing half-made


@pytest.mark.usefixtures("two_orgs")
def test_alarm_mail_goes_to_the_edges_organisation_only() -> None:
    for name, role, org, edges in (
        ("ann", "operator", "acme", ["a-1"]),
        ("amy", "operator", "acme", []),  # no grant: not a-1's
        ("alice", "admin", "acme", []),
        ("bert", "operator", "bolt", ["*"]),  # every edge, of bolt only
        ("bob", "admin", "bolt", []),
        ("root", "admin", None, []),
    ):
        ems.authsvc.create_user(
            name, role, PASSWORD, org=org, edges=edges, email=f"{name}@x.org",
            check_password_strength=False,
        )  # fmt: skip
    assert alarm_recipients("a-1", "operator") == ["ann@x.org"]
    assert alarm_recipients("a-1", "admin") == ["alice@x.org", "root@x.org"]
    assert alarm_recipients("b-1", "operator") == ["bert@x.org"]


def test_import_edges_takes_existing_organisations_and_owns_the_edges(tmp_path: Path) -> None:
    from ems.authsvc.edgecsv import ImportRefused
    from ems.authsvc.models import EdgeOwner
    from ems.authsvc.provision import import_edges

    header = "organisation,site,edge_id,name,latitude,longitude\n"
    orgs.create_org("bolt")
    csv_file = tmp_path / "edges.csv"
    csv_file.write_text(header + "bolt,north,n-1,N,1,2\ndefault,south,s-1,S,3,4\n")
    import_edges(csv_file, tmp_path / "keys.csv")
    assert dict(EdgeOwner.objects.values_list("edge_id", "organisation__name")) == {
        "n-1": "bolt",
        "s-1": "default",
    }
    csv_file.write_text(header + "nowhere,x,x-1,X,0,0\n")
    with pytest.raises(ImportRefused) as refused:
        import_edges(csv_file, tmp_path / "keys2.csv")
    problem = refused.value.problems[0]
    assert (problem.line, problem.column, problem.reason) == (
        2,
        "organisation",
        "unknown_organisation",
    )
    assert not EdgeOwner.objects.filter(edge_id="x-1").exists()
