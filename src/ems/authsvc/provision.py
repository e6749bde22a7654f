"""Bulk provisioning: edges from a CSV (:mod:`ems.authsvc.edgecsv`), one key each.

All or nothing: every row is checked, then edges that already exist (provisioned,
or holding a key made by ``create-edge-key``) refuse the file, then the key file
is created (mode 0600, never over an existing file) and the rows and keys are
written in one transaction. The keys are written to the file inside the
transaction, so a key file that cannot be written leaves the database as it was,
and a transaction that fails removes the key file: no key exists only on one side.
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
    "import_edges",
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
    from ems.profiles import builtin_profiles

    source = str(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(source, [Problem(1, "", "not_utf8", str(exc))]) from None
    except OSError as exc:
        raise ImportFileError(f"cannot read {source}: {exc.strerror}") from None
    rows = parse_edges_csv(
        text,
        source,
        known_profiles=builtin_profiles(),
        known_organisations=orgs.org_names()
        if known_organisations is None
        else known_organisations,
    )
    _refuse_existing(source, rows)
    if key_file.exists():
        raise KeyFileExists(f"{key_file} exists; give a new file (keys are shown once)")
    keys = {row.edge_id: edgekeys.new_key() for row in rows}
    _write_all(rows, keys, key_file)
    sites = len({(row.organisation, row.site) for row in rows})
    log.info("imported %d edges on %d sites from %s", len(rows), sites, source)
    return ImportResult(len(rows), sites, key_file)


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

    from ems.authsvc.models import EdgeKey, EdgeOwner, Organisation, ProvisionedEdge

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
                    EdgeOwner(edge_id=row.edge_id, organisation=by_name[row.organisation])
                    for row in rows
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
                out.write(_key_lines(keys))
                out.flush()
                os.fsync(out.fileno())
            committed = True
    finally:
        if not committed:
            key_file.unlink(missing_ok=True)


def _key_lines(keys: dict[str, tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("edge_id", "api_key"))
    writer.writerows((edge_id, plaintext) for edge_id, (_, plaintext) in keys.items())
    return buffer.getvalue()
