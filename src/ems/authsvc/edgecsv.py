"""The CSV of ``ems auth import-edges``: read and check every row (no Django needed).

Columns (header on line 1, any order): ``organisation``, ``site``, ``edge_id``,
``name``, ``latitude``, ``longitude`` [degrees, WGS 84], and optionally ``profile``
(device profiles the edge will have, ``;``-separated, e.g. ``battery;pv_inverter``).
Every problem is collected, not just the first, so one run names all of them; each
names its line (1 = the header) and column and carries a stable reason code.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

from ems.authsvc.errors import AuthServiceError
from ems.authsvc.identity import EDGE_ID_RE

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "EdgeRow",
    "ImportRefused",
    "Problem",
    "parse_edges_csv",
]

COLUMNS = ("organisation", "site", "edge_id", "name", "latitude", "longitude")
OPTIONAL_COLUMNS = ("profile",)
#: Longest ``name`` [characters] (the model's column).
NAME_MAX_CHARS = 100
#: Longest ``profile`` [characters] (the model's column).
PROFILE_MAX_CHARS = 200
#: Problems listed in the error message; the rest are counted (all stay in ``problems``).
MESSAGE_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the file is refused. ``line`` is 1-based (1 = header); ``column`` is
    the column's name (empty when the whole line is wrong)."""

    line: int
    column: str
    reason: str
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}: {self.detail}"


class ImportRefused(AuthServiceError, ValueError):
    """The file is refused as a whole and nothing was changed; ``problems`` says why."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        shown = [str(p) for p in self.problems[:MESSAGE_PROBLEMS]]
        more = len(self.problems) - len(shown)
        if more:
            shown.append(f"... and {more} more")
        super().__init__(f"{source} refused, nothing imported:\n  " + "\n  ".join(shown))


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """One checked row; ``line`` is where it came from."""

    line: int
    organisation: str
    site: str
    edge_id: str
    name: str
    latitude_deg: float
    longitude_deg: float
    profile: tuple[str, ...]


def parse_edges_csv(
    text: str,
    source: str,
    *,
    known_profiles: Iterable[str],
    known_organisations: Iterable[str] | None,
) -> list[EdgeRow]:
    """Every row of ``text``, checked; raises :class:`ImportRefused` naming every problem.

    ``known_organisations``: the organisations that exist (``None`` accepts any
    well-formed name).
    """
    profiles = frozenset(known_profiles)
    organisations = None if known_organisations is None else frozenset(known_organisations)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportRefused(source, [Problem(1, "", "bad_csv", str(exc))]) from None
    if header is None or not any(h.strip() for h in header):
        raise ImportRefused(source, [Problem(1, "", "empty_file", "no header line")])
    columns = [h.strip() for h in header]
    problems = _check_header(columns)
    if problems:
        raise ImportRefused(source, problems)

    rows: list[EdgeRow] = []
    first_line: dict[str, int] = {}
    try:
        for fields in reader:
            line = reader.line_num
            if not fields:  # a blank line
                continue
            if len(fields) != len(columns):
                problems.append(
                    Problem(
                        line,
                        "",
                        "wrong_field_count",
                        f"{len(fields)} fields, the header has {len(columns)}",
                    )
                )
                continue
            row = _check_row(line, dict(zip(columns, fields, strict=True)), profiles, organisations)
            if isinstance(row, list):
                problems.extend(row)
                continue
            seen = first_line.setdefault(row.edge_id, line)
            if seen != line:
                problems.append(
                    Problem(
                        line,
                        "edge_id",
                        "duplicate_edge_id",
                        f"{row.edge_id!r} is already on line {seen}",
                    )
                )
                continue
            rows.append(row)
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, "", "bad_csv", str(exc)))
    if problems:
        raise ImportRefused(source, problems)
    if not rows:
        raise ImportRefused(source, [Problem(1, "", "no_rows", "the file has no edges")])
    return rows


def _check_header(columns: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    allowed = (*COLUMNS, *OPTIONAL_COLUMNS)
    seen: set[str] = set()
    for name in columns:
        if name not in allowed:
            problems.append(
                Problem(1, name, "unknown_column", f"expected columns: {', '.join(allowed)}")
            )
        elif name in seen:
            problems.append(Problem(1, name, "duplicate_column", "named twice"))
        seen.add(name)
    for name in COLUMNS:
        if name not in seen:
            problems.append(Problem(1, name, "missing_column", "required column absent"))
    return problems


def _check_row(
    line: int,
    fields: dict[str, str],
    profiles: frozenset[str],
    organisations: frozenset[str] | None,
) -> EdgeRow | list[Problem]:
    problems: list[Problem] = []

    def slug(column: str) -> str:
        value = fields[column].strip()
        if EDGE_ID_RE.fullmatch(value) is None:
            problems.append(
                Problem(
                    line,
                    column,
                    f"invalid_{column}",
                    f"{value!r}: 1-63 lowercase letters, digits or '-', "
                    "starting with a letter or digit",
                )
            )
        return value

    def degrees(column: str, limit: float) -> float:
        text = fields[column].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > limit:
            problems.append(
                Problem(
                    line,
                    column,
                    f"invalid_{column}",
                    f"{text!r}: a number of degrees from {-limit:g} to {limit:g}",
                )
            )
        return value

    organisation = slug("organisation")
    if (
        organisations is not None
        and organisation not in organisations
        and EDGE_ID_RE.fullmatch(organisation)
    ):
        problems.append(
            Problem(
                line,
                "organisation",
                "unknown_organisation",
                f"{organisation!r}: no such organisation (ems auth create-org)",
            )
        )
    site = slug("site")
    edge_id = slug("edge_id")
    name = fields["name"].strip()
    if not name or len(name) > NAME_MAX_CHARS or not name.isprintable():
        problems.append(
            Problem(
                line,
                "name",
                "invalid_name",
                f"{name!r}: 1-{NAME_MAX_CHARS} printable characters",
            )
        )
    latitude_deg = degrees("latitude", 90.0)
    longitude_deg = degrees("longitude", 180.0)
    profile_text = fields.get("profile", "").strip()
    profile = tuple(p.strip() for p in profile_text.split(";") if p.strip())
    unknown = [p for p in profile if p not in profiles]
    if unknown or len(profile_text) > PROFILE_MAX_CHARS:
        problems.append(
            Problem(
                line,
                "profile",
                "unknown_profile",
                f"{', '.join(unknown) or profile_text!r}: profiles are "
                f"{', '.join(sorted(profiles))}, ';'-separated, {PROFILE_MAX_CHARS} "
                "characters at most",
            )
        )
    if problems:
        return problems
    return EdgeRow(line, organisation, site, edge_id, name, latitude_deg, longitude_deg, profile)
