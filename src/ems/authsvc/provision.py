"""Bulk provisioning: edges from a CSV (:mod:`ems.authsvc.edgecsv`), one key each.

All or nothing: every row is checked, then edges that already exist (provisioned,
or holding a key made by ``create-edge-key``) refuse the file, then the rows and
keys are written in one transaction. Two ways in, with the same checks:

- ``ems auth import-edges FILE.csv`` (:func:`import_edges`): the key file is
  created first (mode 0600, never over an existing file) and the keys written to
  it inside the transaction, so a key file that cannot be written leaves the
  database as it was, and a transaction that fails removes the key file: no key
  exists only on one side.
- the admin's upload (:func:`import_edges_text`): the keys come back as the text
  of that file, for the one response that shows them; they are stored nowhere.

Each import is audited (``edges.imported``, per organisation: who, which edges).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ems.authsvc import edgekeys, orgs
from ems.authsvc.edgecsv import EdgeRow, ImportRefused, Problem, parse_edges_csv
from ems.authsvc.errors import AuthServiceError

__all__ = [
    "DEFAULT_ORGANISATION",
    "ImportFileError",
    "ImportResult",
    "KeyFileExists",
    "UploadResult",
    "check_edges",
    "import_edges",
    "import_edges_text",
]

log = logging.getLogger(__name__)

#: The organisation existing installs migrate into (``ems.authsvc.models`` has the same).
DEFAULT_ORGANISATION = "default"
#: Label of the keys created here (shown in the admin and by ``revoke-edge-keys``).
KEY_LABEL = "import-edges"


class KeyFileExists(AuthServiceError, FileExistsError):
    """The key file is already there; it is never overwritten (it may hold the only
    copy of other keys)."""


class ImportFileError(AuthServiceError, OSError):
    """The CSV cannot be read, or the key file cannot be created (a missing directory,
    no permission); nothing was changed."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    edges: int
    sites: int
    key_file: Path


def import_edges(
    csv_path: Path,
    key_file: Path,
    *,
    known_organisations: Iterable[str] | None = None,
) -> ImportResult:
    """Provision every edge of ``csv_path``; write ``edge_id,api_key`` lines to ``key_file``.

    Raises :class:`ImportRefused` (nothing changed) naming each bad line and column,
    :class:`KeyFileExists` or :class:`ImportFileError`.
    """
    source = str(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(source, [Problem(1, "", "not_utf8", str(exc))]) from None
    except OSError as exc:
        raise ImportFileError(f"cannot read {source}: {exc.strerror}") from None
    rows = check_edges(
        text,
        source,
        orgs.org_names() if known_organisations is None else known_organisations,
    )
    if key_file.exists():
        raise KeyFileExists(f"{key_file} exists; give a new file (keys are shown once)")
    keys = {row.edge_id: edgekeys.new_key() for row in rows}
    _write_all(rows, keys, key_file)
    sites = len({(row.organisation, row.site) for row in rows})
    log.info("imported %d edges on %d sites from %s", len(rows), sites, source)
    return ImportResult(len(rows), sites, key_file)


@dataclass(frozen=True, slots=True)
class UploadResult:
    edges: int
    sites: int
    #: ``edge_id,api_key`` lines with a header: the only copy of the keys.
    keys_csv: str


def import_edges_text(text: str, source: str, organisations: Iterable[str]) -> UploadResult:
    """Provision every edge of ``text`` (a CSV), rows of ``organisations`` only (a row
    of another is ``unknown_organisation``, as if it did not exist). Raises
    :class:`ImportRefused` with nothing changed."""
    rows = check_edges(text, source, organisations)
    keys = {row.edge_id: edgekeys.new_key() for row in rows}
    from django.db import transaction

    with transaction.atomic():
        _create(rows, keys)
    sites = len({(row.organisation, row.site) for row in rows})
    log.info("imported %d edges on %d sites from %s", len(rows), sites, source)
    return UploadResult(len(rows), sites, _key_lines(keys))


def check_edges(text: str, source: str, organisations: Iterable[str]) -> list[EdgeRow]:
    """Every row of ``text`` checked, and none naming an edge that exists already."""
    from ems.profiles import builtin_profiles

    rows = parse_edges_csv(
        text, source, known_profiles=builtin_profiles(), known_organisations=organisations
    )
    _refuse_existing(source, rows)
    return rows


def _refuse_existing(source: str, rows: list[EdgeRow]) -> None:
    from ems.authsvc.models import EdgeKey, ProvisionedEdge

    wanted = [row.edge_id for row in rows]
    taken = set(
        ProvisionedEdge.objects.filter(edge_id__in=wanted).values_list("edge_id", flat=True)
    )
    taken |= set(EdgeKey.objects.filter(edge_id__in=wanted).values_list("edge_id", flat=True))
    if taken:
        raise ImportRefused(
            source,
            [
                Problem(row.line, "edge_id", "edge_exists", f"{row.edge_id!r} is already known")
                for row in rows
                if row.edge_id in taken
            ],
        )


def _write_all(rows: list[EdgeRow], keys: dict[str, tuple[str, str]], key_file: Path) -> None:
    from django.db import transaction

    # O_EXCL: a file created meanwhile by someone else is not overwritten either.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileExists(f"{key_file} exists; give a new file (keys are shown once)") from None
    except OSError as exc:
        raise ImportFileError(f"cannot create the key file {key_file}: {exc.strerror}") from None
    committed = False
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask made of it
            with transaction.atomic():
                _create(rows, keys)
                out.write(_key_lines(keys))
                out.flush()
                os.fsync(out.fileno())
            committed = True
    finally:
        if not committed:
            key_file.unlink(missing_ok=True)


def _create(rows: list[EdgeRow], keys: dict[str, tuple[str, str]]) -> None:
    """The rows, their owners and keys (inside the caller's transaction), audited."""
    from ems.authsvc import actions
    from ems.authsvc.models import EdgeKey, EdgeOwner, Organisation, ProvisionedEdge

    ProvisionedEdge.objects.bulk_create(
        ProvisionedEdge(
            edge_id=row.edge_id,
            organisation=row.organisation,
            site=row.site,
            name=row.name,
            latitude_deg=row.latitude_deg,
            longitude_deg=row.longitude_deg,
            profile=";".join(row.profile),
        )
        for row in rows
    )
    by_name = {o.name: o for o in Organisation.objects.all()}
    EdgeOwner.objects.bulk_create(
        EdgeOwner(edge_id=row.edge_id, organisation=by_name[row.organisation]) for row in rows
    )
    EdgeKey.objects.bulk_create(
        EdgeKey(
            edge_id=edge_id,
            key_id=key_id,
            key_hash=edgekeys.hash_key(plaintext),
            label=KEY_LABEL,
        )
        for edge_id, (key_id, plaintext) in keys.items()
    )
    # bulk_create sends no signals: one record per organisation says what came in.
    by_org: dict[str, list[EdgeRow]] = {}
    for row in rows:
        by_org.setdefault(row.organisation, []).append(row)
    for org, org_rows in by_org.items():
        actions.record(
            "edges.imported",
            organisation=org,
            after={
                "edges": [r.edge_id for r in org_rows],
                "key_ids": [keys[r.edge_id][0] for r in org_rows],
            },
        )


def _key_lines(keys: dict[str, tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("edge_id", "api_key"))
    writer.writerows((edge_id, plaintext) for edge_id, (_, plaintext) in keys.items())
    return buffer.getvalue()
