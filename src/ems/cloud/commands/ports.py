"""What the command path needs from the rest of the cloud, as small interfaces.

:class:`Peers` is the other cloud processes (DESIGN section 7), implemented by
:class:`~ems.cloud.cluster.ClusterLink`; tests pass a fake or a cluster of one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

__all__ = ["Latest", "LatestSource", "Peers"]

#: ``address -> (value, time [s, Unix epoch])``: an edge's newest values.
Latest = Mapping[str, tuple[object, float]]
#: ``(edge_id, addresses) -> Latest``: the newest stored values of an edge held by
#: another cloud process (the latest-value table).
LatestSource = Callable[[str, Sequence[str]], Awaitable[Latest]]


class Peers(Protocol):
    """The other cloud processes sharing Redis with this one."""

    async def remote_owner(self, edge_id: str) -> str | None:
        """The *other* process holding ``edge_id``, or None (here, or offline everywhere)."""
        ...

    def route_command(self, node_id: str, envelope: str, deadline_s: float) -> None:
        """Hand a command (already in flight) to ``node_id``, which holds its edge."""
        ...

    def request_drain(self, node_id: str, edge_id: str) -> None:
        """Ask ``node_id`` to deliver ``edge_id``'s queue."""
        ...

    def user_ack(self, username: str, ack_text: str) -> None:
        """An encoded ack for the user's dashboards on the other processes."""
        ...
