"""Edge API keys: creation, verification, revocation, rotation, and what is stored."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from django.db import connection

import ems.authsvc
from ems.authsvc import edgekeys
from ems.authsvc.errors import InvalidEdgeId

KEY_RE = re.compile(r"^ems_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def test_a_new_key_verifies_for_its_edge() -> None:
    key = ems.authsvc.create_edge_key("site-1", label="rack 3")
    assert KEY_RE.fullmatch(key)
    assert ems.authsvc.verify_edge_key("site-1", key)


def test_keys_are_unique_and_carry_256_bits_of_secret() -> None:
    keys = {ems.authsvc.create_edge_key("site-1") for _ in range(20)}
    assert len(keys) == 20
    assert len({key.split("_")[1] for key in keys}) == 20  # key ids differ too
    secret = next(iter(keys)).split("_", 2)[2]
    assert len(secret) * 6 >= 256  # base64url: 6 bits a character


def test_a_wrong_secret_is_refused() -> None:
    key = ems.authsvc.create_edge_key("site-1")
    prefix, secret = key.rsplit("_", 1)[0], key.split("_", 2)[2]
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    assert not ems.authsvc.verify_edge_key("site-1", f"{prefix}_{flipped}")


def test_another_edges_key_is_refused() -> None:
    key_1 = ems.authsvc.create_edge_key("site-1")
    key_2 = ems.authsvc.create_edge_key("site-2")
    assert not ems.authsvc.verify_edge_key("site-2", key_1)
    assert not ems.authsvc.verify_edge_key("site-1", key_2)
    assert ems.authsvc.verify_edge_key("site-2", key_2)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: "",
        lambda k: k + "\n",
        lambda k: " " + k,
        lambda k: k.upper(),
        lambda k: k[:-1],
        lambda k: k.replace("ems_", "emx_", 1),
        lambda k: "ems_" + "0" * 12 + "_" + k.split("_", 2)[2],
    ],
    ids=["empty", "newline", "space", "upper", "short", "prefix", "other-id"],
)
def test_malformed_keys_are_refused(mangle: Callable[[str], str]) -> None:
    key = ems.authsvc.create_edge_key("site-1")
    assert not ems.authsvc.verify_edge_key("site-1", mangle(key))


def test_verification_of_a_malformed_edge_id_is_false_not_an_error() -> None:
    key = ems.authsvc.create_edge_key("site-1")
    assert not ems.authsvc.verify_edge_key("Site-1", key)
    assert not ems.authsvc.verify_edge_key("site-1\n", key)


def test_revoked_keys_are_refused() -> None:
    key = ems.authsvc.create_edge_key("site-1")
    assert ems.authsvc.revoke_edge_keys("site-1") == 1
    assert not ems.authsvc.verify_edge_key("site-1", key)
    assert ems.authsvc.revoke_edge_keys("site-1") == 0  # nothing left to revoke


def test_rotation_two_keys_are_valid_until_revoked() -> None:
    old = ems.authsvc.create_edge_key("site-1", label="old")
    new = ems.authsvc.create_edge_key("site-1", label="new")
    other = ems.authsvc.create_edge_key("site-2")
    assert ems.authsvc.verify_edge_key("site-1", old)
    assert ems.authsvc.verify_edge_key("site-1", new)
    assert ems.authsvc.revoke_edge_keys("site-1") == 2
    assert not ems.authsvc.verify_edge_key("site-1", old)
    assert not ems.authsvc.verify_edge_key("site-1", new)
    assert ems.authsvc.verify_edge_key("site-2", other)  # other edges untouched


def test_revoking_one_key_leaves_the_other() -> None:
    from django.utils import timezone

    from ems.authsvc.models import EdgeKey

    old = ems.authsvc.create_edge_key("site-1")
    new = ems.authsvc.create_edge_key("site-1")
    EdgeKey.objects.filter(key_id=edgekeys.parse_key(old)).update(revoked_at=timezone.now())
    assert not ems.authsvc.verify_edge_key("site-1", old)
    assert ems.authsvc.verify_edge_key("site-1", new)


def test_the_plaintext_key_is_never_stored() -> None:
    key = ems.authsvc.create_edge_key("site-1", label="rack 3")
    key_id, secret = key.split("_")[1], key.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM emsauth_edgekey")
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["key_id"] == key_id
    assert row["edge_id"] == "site-1"
    assert row["label"] == "rack 3"
    assert row["revoked_at"] is None
    for value in row.values():
        assert secret not in str(value)
        assert key not in str(value)


@pytest.mark.parametrize("edge_id", ["", "Site-1", "-site", "site_1", "a" * 64, "site 1", "é"])
def test_edge_ids_are_validated(edge_id: str) -> None:
    with pytest.raises(InvalidEdgeId, match="edge id"):
        ems.authsvc.create_edge_key(edge_id)
    with pytest.raises(InvalidEdgeId):
        ems.authsvc.revoke_edge_keys(edge_id)


def test_the_longest_edge_id_is_accepted() -> None:
    edge_id = "a" * 63
    assert ems.authsvc.verify_edge_key(edge_id, ems.authsvc.create_edge_key(edge_id))


def test_key_matches_compares_the_hash() -> None:
    _, key = edgekeys.new_key()
    assert edgekeys.key_matches(key, edgekeys.hash_key(key))
    assert not edgekeys.key_matches(key, edgekeys.hash_key(key + "x"))
    assert edgekeys.parse_key(key) == key.split("_")[1]
