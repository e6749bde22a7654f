"""The admin's upload of an edges CSV: the same checks as ``ems auth import-edges``,
all or nothing, into the admin's own organisations (a superuser's: any), the keys
shown once and never stored."""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

import ems.authsvc
from ems.authsvc import orgs
from ems.authsvc.api import verify_edge_key

PASSWORD = "correct horse battery staple"
URL = "/auth/admin/emsauth/provisionededge/add/"
HEADER = "organisation,site,edge_id,name,latitude,longitude\n"


@pytest.fixture
def people() -> dict[str, Client]:
    from ems.authsvc.models import User

    orgs.create_org("acme")
    orgs.create_org("bolt")
    for name, role, org in (
        ("alice", "admin", "acme"),
        ("anna", "viewer", "acme"),
        ("root", "admin", None),
    ):
        ems.authsvc.create_user(name, role, PASSWORD, org=org, check_password_strength=False)
    clients = {}
    for name in ("alice", "anna", "root"):
        clients[name] = Client()
        clients[name].force_login(User.objects.get(username=name))
    return clients


def upload(client: Client, text: str | bytes, name: str = "edges.csv") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(URL, {"file": SimpleUploadedFile(name, data, "text/csv")})


def keys_text(page: bytes) -> str:
    pre = re.search(rb'<pre id="keys"[^>]*>(.*?)</pre>', page, re.S)
    assert pre is not None
    return pre.group(1).decode()


def keys_on(page: bytes) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(keys_text(page))))
    return {r["edge_id"]: r["api_key"] for r in rows}


def nothing_imported() -> bool:
    from ems.authsvc.models import EdgeKey, ProvisionedEdge

    return not ProvisionedEdge.objects.exists() and not EdgeKey.objects.exists()


def test_an_organisation_admin_imports_and_sees_the_keys_once(people: dict[str, Client]) -> None:
    from ems.authsvc.models import AuditEntry, ProvisionedEdge

    form = people["alice"].get(URL)
    assert form.status_code == 200 and b"acme" in form.content and b"bolt" not in form.content
    text = HEADER + "acme,berlin,acme-1,Roof,52.5,13.4\nacme,berlin,acme-2,Barn,52.6,13.5\n"
    page = upload(people["alice"], text)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    keys = keys_on(page.content)
    assert set(keys) == {"acme-1", "acme-2"}
    assert all(verify_edge_key(edge, key) for edge, key in keys.items())
    link = re.search(rb'href="data:text/csv;base64,([^"]+)"', page.content)
    assert link is not None
    assert base64.b64decode(link.group(1)).decode() == keys_text(page.content)
    assert orgs.edge_organisation("acme-1") == "acme"
    assert set(ProvisionedEdge.objects.values_list("edge_id", flat=True)) == {"acme-1", "acme-2"}
    audit = AuditEntry.objects.get(kind="edges.imported")
    assert (audit.actor, audit.organisation) == ("alice", "acme")
    assert audit.after["edges"] == ["acme-1", "acme-2"]
    # The keys are stored nowhere: the list shows the edges, never a key.
    listing = people["alice"].get("/auth/admin/emsauth/provisionededge/")
    assert b"acme-1" in listing.content
    assert not any(key.encode() in listing.content for key in keys.values())


def test_a_row_of_another_organisation_refuses_the_whole_file(
    people: dict[str, Client],
) -> None:
    text = HEADER + "acme,berlin,acme-1,Roof,52.5,13.4\nbolt,paris,bolt-1,Shed,48.8,2.3\n"
    page = upload(people["alice"], text)
    assert page.status_code == 400
    body = page.content.decode()
    assert "line 3, column organisation" in body and "unknown_organisation" in body
    assert "nothing imported" in body
    assert nothing_imported()


def test_every_problem_is_named_and_nothing_is_imported(people: dict[str, Client]) -> None:
    text = (
        HEADER
        + "acme,berlin,acme-1,Roof,52.5,13.4\n"
        + "acme,berlin,acme-1,Roof,52.5,13.4\n"  # a duplicate edge id
        + "acme,berlin,Bad_Id,Roof,95,13.4\n"  # two problems on one line
    )
    body = upload(people["alice"], text).content.decode()
    for expected in (
        "line 3, column edge_id",
        "duplicate_edge_id",
        "line 4, column latitude",
        "invalid_latitude",
        "line 4, column edge_id",
        "invalid_edge_id",
    ):
        assert expected in body
    assert nothing_imported()
    latin = upload(people["alice"], (HEADER + "acme,köln,k-1,Dom,50.9,6.9\n").encode("latin-1"))
    assert latin.status_code == 400 and b"not_utf8" in latin.content
    assert nothing_imported()


def test_an_existing_edge_refuses_the_file_and_a_superuser_imports_anywhere(
    people: dict[str, Client],
) -> None:
    text = HEADER + "acme,berlin,acme-1,Roof,52.5,13.4\nbolt,paris,bolt-1,Shed,48.8,2.3\n"
    page = upload(people["root"], text)
    assert page.status_code == 200, page.content
    assert set(keys_on(page.content)) == {"acme-1", "bolt-1"}
    again = upload(people["root"], HEADER + "bolt,paris,bolt-1,Shed,48.8,2.3\n")
    assert again.status_code == 400
    assert b"edge_exists" in again.content


def test_only_admins_may_upload(people: dict[str, Client]) -> None:
    page = upload(people["anna"], HEADER + "acme,berlin,acme-1,Roof,52.5,13.4\n")
    assert page.status_code in (302, 403)
    assert nothing_imported()
