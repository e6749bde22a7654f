"""Config sync for an HA pair (DESIGN 16 over DESIGN 18): one config, both boxes.

The cloud pushes to the edge id, so to whichever box holds the lease. That
leader applies the push as a single box does (built on a worker thread, new
devices probed), and right before the swap commits the config to the
replicated table under its fencing token: only a config the quorum holds is
swapped in, and a config in the table is the pair's, whichever box leads
next. The follower sees the newer version in its copy of the table and
applies it the same way; a box that was down applies it when it rejoins,
and a box taking control applies it (again, if it failed before) before its
gate opens. Each box records its outcome in the table.

The leader's ``config_ack`` is ``applied`` once it runs the config and the
quorum holds it; its ``detail`` gives the pair's outcome: the other box
applied it too, refused it (its reason), or did not answer within
:data:`PEER_WAIT_S` (down or behind: it applies it on rejoining). A config
the leader cannot apply is rejected as on a single box and never reaches the
table; one the quorum does not commit in time is ``ha_not_replicated``, one
reaching a box not in control ``not_leader``.
"""

from __future__ import annotations

import logging

from ems.clock import Clock
from ems.edge.configsync import ConfigApplier
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.replica import Replica
from ems.edge.ha.table import ConfigOutcome
from ems.protocol import EdgeConfigAck, EdgeConfigPush, config_reasons, reasons

__all__ = ["PEER_WAIT_S", "PairConfigs"]

log = logging.getLogger(__name__)

#: How long the leader's ack waits for the other box's outcome: a new device there has
#: up to 10 s to answer its first read (``DEVICE_READY_TIMEOUT_S``) [s].
PEER_WAIT_S = 12.0


class PairConfigs:
    """This box's side of the pair's config sync (the link's ``PushedConfigs`` while it
    leads; :meth:`follow` otherwise)."""

    def __init__(
        self,
        node: str,
        peer: str,
        applier: ConfigApplier,
        replica: Replica,
        lease: LocalLease,
        clock: Clock,
        *,
        peer_wait_s: float = PEER_WAIT_S,
        poll_s: float = 0.1,
    ) -> None:
        self._node = node
        self._peer = peer
        self._applier = applier
        self._replica = replica
        self._lease = lease
        self._clock = clock
        self._peer_wait_s = peer_wait_s
        self._poll_s = poll_s
        self._refused_version = 0  # the table's version this box refused (not retried)

    @property
    def version(self) -> int | None:
        return self._applier.version

    # -- the leader -----------------------------------------------------
    async def apply(self, push: EdgeConfigPush) -> EdgeConfigAck:
        """A push from the cloud, to the box in control."""
        if not self._lease.may_control():
            return EdgeConfigAck.rejected(
                push.version, reasons.NOT_LEADER, "this edge is not in control of the site"
            )
        ack = await self._applier.apply(push, self._commit)
        self._record(push.version, ack)
        if ack.status != "applied":
            return ack
        return ack.model_copy(update={"detail": await self._pair_outcome(push.version)})

    async def _commit(self, push: EdgeConfigPush) -> tuple[str, str] | None:
        """Right before the swap: the quorum takes the config, or it is not swapped in."""
        if not self._lease.may_control():
            return reasons.NOT_LEADER, "this edge lost control of the site while building it"
        table = self._replica.table()
        if table.config_version == push.version and table.config == push.config:
            return None  # committed already (pushed again to a new leader)
        if table.config_version >= push.version:
            return config_reasons.STALE_VERSION, f"version {table.config_version} is the pair's"
        if await self._replica.publish_config(self._lease.token, push.version, push.config):
            return None
        return (
            reasons.HA_NOT_REPLICATED,
            "the HA quorum did not commit the config in time; the old one runs on",
        )

    async def _pair_outcome(self, version: int) -> str:
        mine = f"applied by {self._node} (in control)"
        deadline = self._clock.monotonic() + self._peer_wait_s
        while True:
            outcome = self._replica.table().config_outcomes.get(self._peer)
            if outcome is not None and outcome.version >= version:
                break
            if self._clock.monotonic() >= deadline:
                return (
                    f"{mine}; {self._peer}: not confirmed within {self._peer_wait_s:g} s "
                    f"(down or behind: it applies version {version} when it rejoins)"
                )
            # Another thread applies the table: nothing to await but its next state.
            await self._clock.sleep_until(self._clock.monotonic() + self._poll_s)
        if outcome.status == "applied":
            return f"{mine} and by {self._peer}"
        return (
            f"{mine}; {self._peer} refused it ({outcome.reason}: {outcome.detail}); "
            "it tries again when it takes control"
        )

    # -- both boxes -----------------------------------------------------
    async def follow(self, *, retry: bool = False) -> EdgeConfigAck | None:
        """Apply the table's config when it is newer than the one running here; None:
        nothing to do. ``retry``: also a version this box refused before (taking
        control: the devices may answer now)."""
        table = self._replica.table()
        version, config = table.config_version, table.config
        if config is None or version <= (self._applier.version or 0):
            return None
        if version == self._refused_version and not retry:
            return None
        log.info("HA node %s applies the pair's config version %d", self._node, version)
        ack = await self._applier.apply(EdgeConfigPush(version=version, config=config))
        self._record(version, ack)
        self._refused_version = version if ack.status == "rejected" else 0
        return ack

    def _record(self, version: int, ack: EdgeConfigAck) -> None:
        self._replica.record_config_outcome(
            self._node, ConfigOutcome(version, ack.status, ack.reason, ack.detail)
        )
