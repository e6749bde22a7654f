"""``ems auth import-edges``: all rows or none, keys written once to a private file."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

import ems.authsvc
from ems.authsvc.edgecsv import ImportRefused
from ems.authsvc.provision import ImportFileError, KeyFileExists, import_edges
from ems.cli import main as ems_main

HEADER = "organisation,site,edge_id,name,latitude,longitude,profile\n"


def _rows(count: int) -> str:
    return "".join(
        f"default,site-{i // 4},edge-{i:04d},Edge {i},{(i % 170) - 85}.5,{(i % 350) - 175}.25,"
        f"{'battery;pv_inverter' if i % 2 else ''}\n"
        for i in range(count)
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edges.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _counts() -> tuple[int, int]:
    from ems.authsvc.models import EdgeKey, ProvisionedEdge

    return ProvisionedEdge.objects.count(), EdgeKey.objects.count()


def _keys(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["edge_id", "api_key"]
        return {row["edge_id"]: row["api_key"] for row in reader}


def test_a_thousand_rows_make_edges_and_working_keys(tmp_path: Path) -> None:
    from ems.authsvc.models import ProvisionedEdge

    key_file = tmp_path / "keys.csv"
    result = import_edges(_write(tmp_path, HEADER + _rows(1000)), key_file)
    assert (result.edges, result.sites) == (1000, 250)
    assert _counts() == (1000, 1000)
    keys = _keys(key_file)
    assert len(keys) == 1000
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for edge_id in ("edge-0000", "edge-0517", "edge-0999"):
        assert ems.authsvc.verify_edge_key(edge_id, keys[edge_id])
    assert not ems.authsvc.verify_edge_key("edge-0001", keys["edge-0002"])
    edge = ProvisionedEdge.objects.get(edge_id="edge-0003")
    assert (edge.organisation, edge.site, edge.name) == ("default", "site-0", "Edge 3")
    assert (edge.latitude_deg, edge.longitude_deg, edge.profile) == (
        -82.5,
        -172.25,
        "battery;pv_inverter",
    )


def test_the_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        key_file = tmp_path / "keys.csv"
        import_edges(_write(tmp_path, HEADER + _rows(2)), key_file)
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_one_bad_row_in_a_thousand_changes_nothing(tmp_path: Path) -> None:
    lines = (HEADER + _rows(1000)).splitlines(keepends=True)
    lines[501] = "default,site-x,edge-bad,Bad,12.0,181,\n"  # line 502 of the file
    key_file = tmp_path / "keys.csv"
    with pytest.raises(ImportRefused) as caught:
        import_edges(_write(tmp_path, "".join(lines)), key_file)
    assert [(p.line, p.column, p.reason) for p in caught.value.problems] == [
        (502, "longitude", "invalid_longitude")
    ]
    assert _counts() == (0, 0)
    assert not key_file.exists()


def test_an_edge_already_known_refuses_the_file(tmp_path: Path) -> None:
    ems.authsvc.create_edge_key("edge-0001")  # made by create-edge-key, not provisioned
    import_edges(_write(tmp_path, HEADER + _rows(1)), tmp_path / "first.csv")  # edge-0000
    key_file = tmp_path / "keys.csv"
    with pytest.raises(ImportRefused) as caught:
        import_edges(_write(tmp_path, HEADER + _rows(3)), key_file)
    assert [(p.line, p.column, p.reason) for p in caught.value.problems] == [
        (2, "edge_id", "edge_exists"),
        (3, "edge_id", "edge_exists"),
    ]
    assert _counts() == (1, 2)
    assert not key_file.exists()


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.csv"
    key_file.write_text("the only copy of other keys\n")
    with pytest.raises(KeyFileExists):
        import_edges(_write(tmp_path, HEADER + _rows(3)), key_file)
    assert key_file.read_text() == "the only copy of other keys\n"
    assert _counts() == (0, 0)


def test_a_failing_transaction_leaves_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import IntegrityError

    from ems.authsvc.models import EdgeKey

    def fail(*args: object, **kwargs: object) -> None:
        raise IntegrityError("key_id collision")

    monkeypatch.setattr(EdgeKey.objects, "bulk_create", fail)
    key_file = tmp_path / "keys.csv"
    with pytest.raises(IntegrityError):
        import_edges(_write(tmp_path, HEADER + _rows(3)), key_file)
    monkeypatch.undo()
    assert _counts() == (0, 0)
    assert not key_file.exists()


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_bytes(HEADER.encode() + b"default,a,e-1,Caf\xe9,0,0,\n")
    with pytest.raises(ImportRefused) as caught:
        import_edges(path, tmp_path / "keys.csv")
    assert caught.value.problems[0].reason == "not_utf8"


def test_cli_reports_line_and_column_and_exits_2(
    auth_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = _write(tmp_path, HEADER + "default,a,e-1,E,0,0,\ndefault,a,e_2,E,0,0,\n")
    argv = ["auth", "import-edges", str(csv_path), "--keys-out", str(tmp_path / "k.csv")]
    code = ems_main([*argv, "--data-dir", str(auth_data_dir)])
    assert code == 2
    err = capsys.readouterr().err
    assert "line 3, column edge_id: invalid_edge_id" in err
    assert _counts() == (0, 0)


def test_cli_imports_and_says_where_the_keys_are(
    auth_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = _write(tmp_path, HEADER + _rows(5))
    key_file = tmp_path / "k.csv"
    argv = ["auth", "import-edges", str(csv_path), "--keys-out", str(key_file)]
    assert ems_main([*argv, "--data-dir", str(auth_data_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # no key on the terminal
    assert "imported 5 edge(s) on 2 site(s)" in captured.err
    assert len(_keys(key_file)) == 5


def test_the_admin_lists_imported_edges_read_only(tmp_path: Path) -> None:
    from django.test import Client

    from ems.authsvc.models import User

    import_edges(_write(tmp_path, HEADER + _rows(2)), tmp_path / "keys.csv")
    ems.authsvc.create_user("ada", "admin", "correct horse battery staple")
    client = Client()
    client.force_login(User.objects.get(username="ada"))
    listing = client.get("/auth/admin/emsauth/provisionededge/")
    assert listing.status_code == 200
    assert "edge-0001" in listing.content.decode()
    # No edge is added or changed one by one: "add" is the upload of a CSV.
    upload = client.get("/auth/admin/emsauth/provisionededge/add/")
    assert upload.status_code == 200 and b'type="file"' in upload.content


def test_a_spreadsheet_export_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    text = HEADER + _rows(3)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert import_edges(path, tmp_path / "keys.csv").edges == 3


def test_unreadable_csv_and_uncreatable_key_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"cannot read .*absent\.csv"):
        import_edges(tmp_path / "absent.csv", tmp_path / "keys.csv")
    csv_path = _write(tmp_path, HEADER + _rows(2))
    with pytest.raises(ImportFileError, match="cannot create the key file"):
        import_edges(csv_path, tmp_path / "no-such-dir" / "keys.csv")
    assert _counts() == (0, 0)
