"""Who is connected to *this* process: edges, dashboards, subscriptions, inventories.

What other cloud processes must know (which process holds which edge, acks
and telemetry for dashboards elsewhere) goes through :mod:`ems.cloud.cluster`.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ems.cloud.peer import Peer
from ems.protocol import ControllerRef, DeviceRef, EdgeStatus

__all__ = ["EdgeSession", "Hub", "UiSession"]


@dataclass(eq=False)
class EdgeSession:
    edge_id: str
    peer: Peer
    connected_at: float = field(default_factory=time.time)
    key_id: str | None = None
    """The public id of the API key it authenticated with (its revocation closes it)."""


@dataclass(eq=False)
class UiSession:
    username: str
    role: str
    peer: Peer
    token_exp_s: float
    subscriptions: set[str] = field(default_factory=set)
    token_iat_s: float = 0.0
    """When its token was issued [s, Unix epoch] (checked against revocations)."""
    edges: frozenset[str] | None = None
    """The edges its token grants; ``None``: every edge."""
    command_edges: frozenset[str] | None = None
    """The edges its role there lets it command (``edges`` less those where the user
    is only a viewer); ``None``: every edge."""

    def may_access(self, edge_id: str) -> bool:
        return self.edges is None or edge_id in self.edges


class Hub:
    """``stale_after_s``: a connected edge silent for longer than this is *stale*
    (its socket is open, yet no frame came: a frozen edge, a half-open TCP
    connection). ``wall_clock`` gives UTC epoch seconds (injectable for tests).
    """

    def __init__(
        self, *, stale_after_s: float = 10.0, wall_clock: Callable[[], float] = time.time
    ) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be positive, not {stale_after_s!r}")
        self.stale_after_s = stale_after_s
        self._now = wall_clock
        self.edges: dict[str, EdgeSession] = {}
        self.inventory: dict[str, list[DeviceRef]] = {}
        #: Each edge's controllers with their settable parameters (``set_controller``).
        self.controllers: dict[str, list[ControllerRef]] = {}
        self.last_seen: dict[str, float] = {}  # edge id -> UTC epoch s
        self.stale: set[str] = set()  # connected here, silent for longer than stale_after_s
        # Edges whose stale flag changed (edge id -> stale now) since the cluster
        # last took them (it tells the other processes); local subscribers have
        # been sent the status already.
        self._stale_changes: dict[str, bool] = {}
        #: Set while :meth:`take_stale_changes` has something.
        self.stale_changed = asyncio.Event()
        # Latest telemetry of each connected edge: address -> (value, UTC epoch s).
        # Every frame of an online edge passes through this process, so this is
        # as fresh as the latest-value table and costs no query per command.
        self.latest: dict[str, dict[str, tuple[object, float]]] = {}
        self.users: dict[str, set[UiSession]] = defaultdict(set)
        self.subscribers: dict[str, set[UiSession]] = defaultdict(set)

    # -- edges -----------------------------------------------------------
    def attach_edge(self, session: EdgeSession) -> EdgeSession | None:
        """Register an edge connection; returns the one it replaces, if any."""
        old = self.edges.get(session.edge_id)
        self.edges[session.edge_id] = session
        self.seen(session.edge_id)
        self.broadcast_status(session.edge_id)
        return old

    def detach_edge(self, session: EdgeSession) -> bool:
        """Forget an edge connection; False when a newer one had replaced it already."""
        if self.edges.get(session.edge_id) is not session:
            return False
        del self.edges[session.edge_id]
        self.latest.pop(session.edge_id, None)
        self.stale.discard(session.edge_id)  # offline now, which says more than stale
        self.broadcast_status(session.edge_id)
        return True

    def seen(self, edge_id: str) -> None:
        """A frame of ``edge_id`` arrived (called per frame: keep it cheap)."""
        self.last_seen[edge_id] = self._now()
        if edge_id in self.stale:  # it speaks again
            self.stale.discard(edge_id)
            self._stale_changed(edge_id)

    def check_stale(self) -> list[str]:
        """Mark connected edges silent for longer than ``stale_after_s``; returns them.

        Run periodically (the cluster's upkeep, every second); each newly stale
        edge's subscribers get an ``edge_status``, and so does the cluster.
        """
        now = self._now()
        newly = [
            edge_id
            for edge_id in self.edges
            if edge_id not in self.stale
            and now - self.last_seen.get(edge_id, now) > self.stale_after_s
        ]
        for edge_id in newly:
            self.stale.add(edge_id)
            self._stale_changed(edge_id)
        return newly

    def _stale_changed(self, edge_id: str) -> None:
        self.broadcast_status(edge_id)
        self._stale_changes[edge_id] = edge_id in self.stale
        self.stale_changed.set()

    def take_stale_changes(self) -> dict[str, bool]:
        """The stale flags changed since the last call (edge id -> stale now)."""
        changes, self._stale_changes = self._stale_changes, {}
        self.stale_changed.clear()
        return changes

    def online(self, edge_id: str) -> bool:
        return edge_id in self.edges

    def status(self, edge_id: str) -> EdgeStatus:
        seen = self.last_seen.get(edge_id)
        return EdgeStatus(
            edge_id=edge_id,
            online=self.online(edge_id),
            last_seen=None if seen is None else datetime.fromtimestamp(seen, UTC),
            stale=edge_id in self.stale,
        )

    def broadcast_status(self, edge_id: str) -> None:
        frame = self.status(edge_id)
        for ui in self.subscribers.get(edge_id, ()):
            ui.peer.send(frame)

    def known_edges(self) -> list[str]:
        return sorted(set(self.inventory) | set(self.edges) | set(self.last_seen))

    # -- dashboards ------------------------------------------------------
    def attach_ui(self, session: UiSession) -> None:
        self.users[session.username].add(session)

    def detach_ui(self, session: UiSession) -> None:
        self.users[session.username].discard(session)
        if not self.users[session.username]:
            del self.users[session.username]
        for edge_id in session.subscriptions:
            self.subscribers[edge_id].discard(session)
            if not self.subscribers[edge_id]:
                del self.subscribers[edge_id]

    def subscribe(self, session: UiSession, edge_id: str) -> None:
        session.subscriptions.add(edge_id)
        self.subscribers[edge_id].add(session)

    def unsubscribe(self, session: UiSession, edge_id: str) -> None:
        session.subscriptions.discard(edge_id)
        self.subscribers[edge_id].discard(session)
