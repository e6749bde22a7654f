"""The import-edges CSV: every problem named by line, column and reason code."""

from __future__ import annotations

import pytest

from ems.authsvc.edgecsv import EdgeRow, ImportRefused, parse_edges_csv

HEADER = "organisation,site,edge_id,name,latitude,longitude,profile\n"
PROFILES = ("battery", "grid_meter", "load_meter", "pv_inverter")


def _parse(text: str, known_organisations: list[str] | None = None) -> list[EdgeRow]:
    return parse_edges_csv(
        text,
        "edges.csv",
        known_profiles=PROFILES,
        known_organisations=["default"] if known_organisations is None else known_organisations,
    )


def _problems(text: str, **kw: str | None) -> list[tuple[int, str, str]]:
    with pytest.raises(ImportRefused) as caught:
        _parse(text, **kw)  # type: ignore[arg-type]
    assert "nothing imported" in str(caught.value)
    return [(p.line, p.column, p.reason) for p in caught.value.problems]


def test_good_rows_in_any_column_order() -> None:
    rows = _parse(
        "edge_id,name,site,organisation,longitude,latitude\n"
        "site-1,Depot North,depot,default,13.4,52.5\n"
        'site-2,"Depot, South",depot,default,-0.1,-33.9\n'
    )
    assert rows == [
        EdgeRow(2, "default", "depot", "site-1", "Depot North", 52.5, 13.4, ()),
        EdgeRow(3, "default", "depot", "site-2", "Depot, South", -33.9, -0.1, ()),
    ]


def test_profile_is_a_list_of_known_profiles() -> None:
    (row,) = _parse(HEADER + "default,a,e-1,E,0,0, battery ; pv_inverter\n")
    assert row.profile == ("battery", "pv_inverter")
    assert _problems(HEADER + "default,a,e-1,E,0,0,battery;fridge\n") == [
        (2, "profile", "unknown_profile")
    ]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("default,a,Site_1,E,0,0,", "edge_id", "invalid_edge_id"),
        ("default,a,-x,E,0,0,", "edge_id", "invalid_edge_id"),
        ("default,A B,e-1,E,0,0,", "site", "invalid_site"),
        ("Default,a,e-1,E,0,0,", "organisation", "invalid_organisation"),
        ("acme,a,e-1,E,0,0,", "organisation", "unknown_organisation"),
        ("default,a,e-1,,0,0,", "name", "invalid_name"),
        ("default,a,e-1,E,90.5,0,", "latitude", "invalid_latitude"),
        ("default,a,e-1,E,north,0,", "latitude", "invalid_latitude"),
        ("default,a,e-1,E,nan,0,", "latitude", "invalid_latitude"),
        ("default,a,e-1,E,0,-180.01,", "longitude", "invalid_longitude"),
        ("default,a,e-1,E,0,inf,", "longitude", "invalid_longitude"),
        ("default,a,e-1,E,0", "", "wrong_field_count"),
    ],
)
def test_a_bad_field_is_named(row: str, column: str, reason: str) -> None:
    text = HEADER + "default,a,good-1,E,1,1,\n" + row + "\n"
    assert _problems(text) == [(3, column, reason)]


def test_every_problem_is_listed_not_just_the_first() -> None:
    text = HEADER + "default,a,e-1,E,99,0,\ndefault,a,e-2,E,0,0,\ndefault,a,E 3,E,0,999,\n"
    assert _problems(text) == [
        (2, "latitude", "invalid_latitude"),
        (4, "edge_id", "invalid_edge_id"),
        (4, "longitude", "invalid_longitude"),
    ]


def test_an_edge_id_twice_in_the_file() -> None:
    text = HEADER + "default,a,e-1,E,0,0,\ndefault,b,e-2,E,0,0,\ndefault,c,e-1,F,0,0,\n"
    with pytest.raises(ImportRefused) as caught:
        _parse(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.reason) == (4, "edge_id", "duplicate_edge_id")
    assert "line 2" in problem.detail
    assert "line 4, column edge_id: duplicate_edge_id" in str(caught.value)


def test_header_problems() -> None:
    assert _problems("organisation,site,edge_id,name,latitude,lon\n") == [
        (1, "lon", "unknown_column"),
        (1, "longitude", "missing_column"),
    ]
    assert _problems("organisation,site,site,edge_id,name,latitude,longitude\n") == [
        (1, "site", "duplicate_column")
    ]
    assert _problems("") == [(1, "", "empty_file")]
    assert _problems(HEADER) == [(1, "", "no_rows")]


def test_any_organisation_when_organisations_exist() -> None:
    (row,) = _parse(HEADER + "acme,a,e-1,E,0,0,\n", known_organisations=["default", "acme"])
    assert row.organisation == "acme"


def test_a_broken_quote_is_a_csv_problem() -> None:
    assert _problems(HEADER + 'default,a,e-1,"E,0,0,\n') == [(2, "", "bad_csv")]


def test_blank_lines_are_skipped_and_lines_still_counted() -> None:
    rows = _parse(HEADER + "\ndefault,a,e-1,E,0,0,\n")
    assert rows[0].line == 3


def test_long_message_is_cut_but_every_problem_kept() -> None:
    text = HEADER + "".join(f"default,a,e-{i},E,91,0,\n" for i in range(30))
    with pytest.raises(ImportRefused) as caught:
        _parse(text)
    assert len(caught.value.problems) == 30
    assert "... and 10 more" in str(caught.value)
