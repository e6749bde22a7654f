"""Every edge's config, versioned: the YAML text, who stored it, when, why, and its fate.

One row per version; versions of an edge count up from 1 and are never
changed but for their ``status``: ``stored`` (accepted by the cloud's
validation), ``pushed`` (sent to the edge), ``applied`` or ``rejected`` (the
edge's ``config_ack``, with its reason and detail). A rollback is a new
version whose text is an older one's (``rollback_of`` names it).

Beside the command records (same ``EMS_DATABASE_URL``; SQLite in the data
directory by default). The SQL is spelled once here; ``{pN}`` placeholders
become ``?N`` or ``$N`` (:func:`ems.cloud.records.sql.render`). Two writers
storing a version of one edge at once cannot both get number N: the pair
``(edge_id, version)`` is the primary key, and the loser retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ems.timefmt import to_rfc3339

__all__ = [
    "INSERT_VERSION",
    "NEXT_VERSION",
    "SELECT_HISTORY",
    "SELECT_VERSION",
    "UPDATE_STATUS",
    "ConfigStatus",
    "ConfigStore",
    "ConfigVersion",
]

ConfigStatus = Literal["stored", "pushed", "applied", "rejected"]

_COLUMNS = (
    "edge_id, version, yaml, by_user, at, comment, rollback_of, status, reason, detail, status_at"
)
NEXT_VERSION = "SELECT COALESCE(MAX(version), 0) + 1 FROM edge_configs WHERE edge_id = {p1}"
INSERT_VERSION = (
    f"INSERT INTO edge_configs ({_COLUMNS})"
    " VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p7}, 'stored', NULL, NULL, {p5})"
)
SELECT_VERSION = f"SELECT {_COLUMNS} FROM edge_configs WHERE edge_id = {{p1}} AND version = {{p2}}"
SELECT_HISTORY = (
    f"SELECT {_COLUMNS} FROM edge_configs WHERE edge_id = {{p1}} ORDER BY version DESC LIMIT {{p2}}"
)
# A later verdict never goes back to ``pushed``: a re-push after ``applied`` keeps ``applied``.
UPDATE_STATUS = (
    "UPDATE edge_configs SET status = {p3}, reason = {p4}, detail = {p5}, status_at = {p6}"
    " WHERE edge_id = {p1} AND version = {p2}"
    " AND NOT ({p3} = 'pushed' AND status IN ('applied', 'rejected'))"
)


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    edge_id: str
    version: int
    yaml: str
    by: str
    at_s: float  # UTC epoch [s] when stored
    comment: str | None
    rollback_of: int | None
    status: ConfigStatus
    reason: str | None
    detail: str | None
    status_at_s: float

    @classmethod
    def from_row(cls, row: Any) -> ConfigVersion:
        edge, version, text, by, at, comment, rollback_of, status, reason, detail, status_at = row
        return cls(
            edge, version, text, by, at, comment, rollback_of, status, reason, detail, status_at
        )

    def to_api(self, *, with_yaml: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "by": self.by,
            "at": to_rfc3339(self.at_s),
            "comment": self.comment,
            "rollback_of": self.rollback_of,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "status_at": to_rfc3339(self.status_at_s),
        }
        if with_yaml:
            out["yaml"] = self.yaml
        return out


class ConfigStore(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def add(
        self,
        edge_id: str,
        yaml_text: str,
        by: str,
        at_s: float,
        comment: str | None,
        rollback_of: int | None = None,
    ) -> ConfigVersion:
        """Store the next version of ``edge_id``'s config (status ``stored``)."""
        ...

    async def get(self, edge_id: str, version: int) -> ConfigVersion | None: ...

    async def history(self, edge_id: str, limit: int) -> list[ConfigVersion]:
        """Newest first."""
        ...

    async def set_status(
        self,
        edge_id: str,
        version: int,
        status: ConfigStatus,
        reason: str | None,
        detail: str | None,
        at_s: float,
    ) -> None: ...
