"""Config sync, the cloud's side (DESIGN 16): store, push, re-push, record the verdicts.

A version is pushed to its edge by the process that holds the edge's socket:
the process that stored it tells every process on the bus, and the holder
sends the edge the newest version. An edge that connects reports the version
it runs in its inventory; when that is behind the newest stored one, the
newest is pushed again (so an edge offline during a change gets it when it
reconnects). A newest version the edge rejected is not pushed again: the edge
answered, and an admin decides (a fix, or a rollback, is a new version).

Each change and each verdict is an audit record (``cloud.config_*``, the
``ems.audit`` trail) with who and what; the versions table keeps the same
history for the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import yaml

from ems.audit import AuditTrail
from ems.cloud.cluster import Cluster
from ems.cloud.configsync.schema import validate_edge_yaml
from ems.cloud.configsync.store import ConfigStatus, ConfigStore, ConfigVersion
from ems.cloud.hub import Hub
from ems.protocol import EdgeConfigAck, EdgeConfigPush, UiConfigStatus, encode

__all__ = ["CONFIG_CHANNEL", "ConfigSync"]

log = logging.getLogger(__name__)

#: Bus channel: "edge X has a new config version" (the payload is the edge id).
CONFIG_CHANNEL = "ems:config-sync"


class ConfigSync:
    def __init__(
        self,
        store: ConfigStore,
        hub: Hub,
        cluster: Cluster | None,
        *,
        audit: AuditTrail | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._hub = hub
        self._cluster = cluster
        self.audit = audit or AuditTrail("cloud")
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def listen(self) -> None:
        """Hear the other processes' new versions (before the cluster starts)."""
        if self._cluster is not None:
            self._cluster.listen(CONFIG_CHANNEL, self._on_bus)

    # -- admins ------------------------------------------------------------------
    async def put(
        self, edge_id: str, yaml_text: str, user: str, comment: str | None
    ) -> ConfigVersion:
        """Validate, store as the next version, push. :class:`ConfigRefused`: nothing stored."""
        validate_edge_yaml(edge_id, yaml_text)
        stored = await self.store.add(edge_id, yaml_text, user, self._clock(), comment)
        self._audit("cloud.config_stored", stored, user, comment)
        await self._announce(stored)
        return stored

    async def rollback(
        self, edge_id: str, to_version: int, user: str, comment: str | None
    ) -> ConfigVersion | None:
        """Store version ``to_version``'s text again as the next version; None if unknown."""
        old = await self.store.get(edge_id, to_version)
        if old is None:
            return None
        validate_edge_yaml(edge_id, old.yaml)  # the schema may have moved on since
        stored = await self.store.add(
            edge_id, old.yaml, user, self._clock(), comment, rollback_of=to_version
        )
        self._audit("cloud.config_rollback", stored, user, f"to version {to_version}")
        await self._announce(stored)
        return stored

    # -- the edge's socket (on the process holding it) -----------------------------
    async def on_inventory(self, edge_id: str, running: int | None) -> None:
        """The edge runs ``running`` (None: its local file): push the newest if it is behind."""
        newest = await self._newest(edge_id)
        if newest is None or (running is not None and running >= newest.version):
            return
        if newest.status == "rejected":
            return
        await self.push(edge_id, newest)

    async def on_ack(self, edge_id: str, ack: EdgeConfigAck) -> None:
        version = await self.store.get(edge_id, ack.version)
        if version is None:
            log.warning("edge %s acked config version %d it was never sent", edge_id, ack.version)
            return
        await self._set(version, ack.status, ack.reason, ack.detail)
        self.audit.record(
            f"cloud.config_{ack.status}",
            _record_id(edge_id, ack.version),
            self._clock(),
            edge_id=edge_id,
            status=ack.status,
            reason=ack.reason,
            detail=ack.detail,
        )

    async def push(self, edge_id: str, version: ConfigVersion) -> bool:
        """Send ``version`` to the edge when its socket is held here."""
        session = self._hub.edges.get(edge_id)
        if session is None:
            return False
        document = yaml.safe_load(version.yaml)
        if not session.peer.send(EdgeConfigPush(version=version.version, config=document)):
            return False
        if version.status in ("stored", "pushed"):
            await self._set(version, "pushed", None, None)
        log.info("edge %s: config version %d pushed", edge_id, version.version)
        return True

    # -- internals -----------------------------------------------------------------
    async def _announce(self, stored: ConfigVersion) -> None:
        self._tell_dashboards(stored, stored.status, None, None)
        if not await self.push(stored.edge_id, stored) and self._cluster is not None:
            self._cluster.bus.publish(CONFIG_CHANNEL, stored.edge_id)

    def _on_bus(self, data: bytes) -> None:
        edge_id = data.decode()
        if edge_id not in self._hub.edges:
            return
        task = asyncio.get_running_loop().create_task(self._push_newest(edge_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_newest(self, edge_id: str) -> None:
        newest = await self._newest(edge_id)
        if newest is not None:
            await self.push(edge_id, newest)

    async def _newest(self, edge_id: str) -> ConfigVersion | None:
        found = await self.store.history(edge_id, 1)
        return found[0] if found else None

    async def _set(
        self, version: ConfigVersion, status: ConfigStatus, reason: str | None, detail: str | None
    ) -> None:
        await self.store.set_status(
            version.edge_id, version.version, status, reason, detail, self._clock()
        )
        self._tell_dashboards(version, status, reason, detail)

    def _tell_dashboards(
        self, version: ConfigVersion, status: ConfigStatus, reason: str | None, detail: str | None
    ) -> None:
        frame = UiConfigStatus(
            edge_id=version.edge_id,
            version=version.version,
            status=status,
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(self._clock(), UTC),
        )
        if self._cluster is not None:
            self._cluster.to_subscribers(version.edge_id, "config_status", encode(frame))
        else:
            for ui in self._hub.subscribers.get(version.edge_id, ()):
                ui.peer.send(frame)

    def _audit(self, event: str, stored: ConfigVersion, user: str, detail: str | None) -> None:
        self.audit.record(
            event,
            _record_id(stored.edge_id, stored.version),
            stored.at_s,
            user=user,
            edge_id=stored.edge_id,
            status="stored",
            detail=detail,
            version=stored.version,
        )


def _record_id(edge_id: str, version: int) -> str:
    """The audit record's ``command_id``: config changes are no commands, but are traced."""
    return f"config:{edge_id}:{version}"
