"""The config version this edge applied last, kept in its state directory.

Start rule (which config an edge starts from): the persisted applied config
wins over the YAML file given on the command line when it was applied *after*
that file was last modified (its mtime), and names the same ``edge_id``. So an
edge restarted while the cloud is unreachable runs the latest version the
cloud pushed, and an operator forces the local file by editing it (or
``touch``-ing it): a file newer than the applied version wins. Deleting
``applied-config.json`` has the same effect. The local file wins only until
the cloud is reached: an edge that runs its file reports no version, and the
cloud pushes its newest one again (the cloud is the source of truth).

The file is replaced atomically (temporary file, fsync, rename, directory
fsync): a power cut leaves the old version or the new one, never a torn file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.edge.config import EdgeConfig, load_edge_config, parse_edge_config
from ems.errors import ConfigError

__all__ = ["APPLIED_CONFIG_FILE", "AppliedConfig", "AppliedConfigFile", "choose_start_config"]

log = logging.getLogger(__name__)

APPLIED_CONFIG_FILE = "applied-config.json"


@dataclass(frozen=True, slots=True)
class AppliedConfig:
    version: int
    document: dict[str, Any]  # the decoded YAML, as the cloud pushed it
    applied_at_s: float  # UTC epoch [s]


class AppliedConfigFile:
    """``applied-config.json``: the last applied version, its document and when."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> AppliedConfig | None:
        """The applied config, or None when there is none or it is unreadable (logged)."""
        try:
            raw = json.loads(self.path.read_text("utf-8"))
            applied = AppliedConfig(
                version=int(raw["version"]),
                document=dict(raw["document"]),
                applied_at_s=float(raw["applied_at_s"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("applied config %s unreadable (%s); ignored", self.path, exc)
            return None
        return applied

    def save(self, applied: AppliedConfig) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps(
            {
                "version": applied.version,
                "applied_at_s": applied.applied_at_s,
                "document": applied.document,
            },
            sort_keys=True,
        ).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def choose_start_config(
    local: Path, state_dir: Path, config: EdgeConfig | None = None
) -> tuple[EdgeConfig, int | None, str]:
    """The config to start from, its cloud version (None: the local file) and why.

    ``config``: ``local`` as already loaded (default: loaded here). See the module
    doc for the rule. A persisted config that no longer validates (an upgrade
    changed the schema) is logged and the local file used.
    """
    config = load_edge_config(local) if config is None else config
    applied = AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE).load()
    if applied is None:
        return config, None, "local file (no applied cloud config)"
    try:
        local_mtime_s = local.stat().st_mtime
    except OSError:
        local_mtime_s = float("inf")
    if local_mtime_s > applied.applied_at_s:
        return config, None, f"local file (modified after cloud version {applied.version})"
    try:
        cloud = parse_edge_config(
            applied.document, f"applied cloud version {applied.version}", local.parent
        )
    except ConfigError as exc:
        log.error("%s; starting from the local file", exc)
        return config, None, "local file (applied cloud config invalid)"
    if cloud.edge_id != config.edge_id:
        return config, None, "local file (applied cloud config is another edge's)"
    return cloud, applied.version, f"applied cloud version {applied.version}"
