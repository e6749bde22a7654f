"""What the cloud link needs of whatever applies the configs the cloud pushes."""

from __future__ import annotations

from typing import Protocol

from ems.protocol import EdgeConfigAck, EdgeConfigPush

__all__ = ["PushedConfigs"]


class PushedConfigs(Protocol):
    """A single box's :class:`~ems.edge.configsync.ConfigApplier`, or an HA pair's
    leader (:class:`~ems.edge.ha.configs.PairConfigs`)."""

    @property
    def version(self) -> int | None:
        """The cloud version running now (None: a local file), for the inventory."""
        ...

    async def apply(self, push: EdgeConfigPush) -> EdgeConfigAck:
        """Apply ``push`` between two cycles, or keep the old config; the ack says which."""
        ...
