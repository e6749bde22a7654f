"""This process's part in a cloud of several: who holds which edge, and what crosses over.

DESIGN section 7. Every cloud process runs one :class:`Cluster`, with the
embedded store too (then it is a cluster of one, through the same code). It
keeps this process's claims in the :class:`~ems.cloud.shared.registry.EdgeRegistry`
and carries three kinds of traffic over the :class:`~ems.cloud.shared.bus.Bus`:

- to a *node* (``P:node:N``): a command accepted here for an edge held there,
  a request to drain an edge's queue, and "your socket of this edge is stale";
- to a *user* (``P:user:U``): every status change of the user's commands, to
  the user's dashboards on any process;
- from an *edge* (``P:edge:E``): its connection status, and its live telemetry
  while some other process has a dashboard subscribed to it.

A process subscribes to a user's or an edge's channel only while it has a
dashboard of that user or subscribed to that edge, and ignores what it
published itself (its own dashboards got that directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as redis_async

from ems.cloud.hub import EdgeSession, Hub
from ems.cloud.shared.bus import Bus
from ems.cloud.shared.registry import EdgeRegistry
from ems.protocol import EdgeStatus, UiTelemetry, encode

__all__ = ["CLOSE_REPLACED", "Cluster", "ClusterLink", "NodeIdInUse", "NodeInbox"]

log = logging.getLogger(__name__)

CLOSE_REPLACED = 4409  # a newer connection of the same edge took over
_TICK_S = 1.0  # how often the registry is looked at
_WANT_FOR_S = 10.0  # how long one announcement of interest in an edge's telemetry lasts

_LEASE_POLL_S = 0.5  # how often a starting process looks whether its node id is free


class NodeIdInUse(RuntimeError):
    """Another running process calls itself by this process's ``EMS_NODE_ID``."""


class NodeInbox(Protocol):
    """What this process does with the commands and drain requests other processes
    send it (the command path's :class:`~ems.cloud.commands.Dispatcher`)."""

    def on_routed(self, message: Mapping[str, Any]) -> None:
        """A command routed here: ``{"envelope": <Tracked envelope>, "deadline": <s>}``."""
        ...

    def drain(self, edge_id: str) -> None: ...


class ClusterLink:
    """The sending half of this process's place in the cluster: the registry and the bus.

    Made before the parts that talk to other processes (the command path takes
    it as its :class:`~ems.cloud.commands.Peers`) and before the :class:`Cluster`
    that reads what they send back, so nothing is wired after construction.
    """

    def __init__(
        self,
        redis: redis_async.Redis,
        node_id: str,
        *,
        registry_ttl_s: float = 10.0,
        key_prefix: str = "ems",
    ) -> None:
        self.node_id = node_id
        self.prefix = key_prefix
        self.registry = EdgeRegistry(redis, node_id, ttl_s=registry_ttl_s, key_prefix=key_prefix)
        self.bus = Bus(redis)

    async def remote_owner(self, edge_id: str) -> str | None:
        """The *other* process holding ``edge_id``, or None (here, or offline everywhere)."""
        owner = await self.registry.owner(edge_id)
        return None if owner is None or owner == self.node_id else owner

    def route_command(self, node_id: str, envelope: str, deadline_s: float) -> None:
        self.to_node(node_id, {"k": "command", "envelope": envelope, "deadline": deadline_s})

    def request_drain(self, node_id: str, edge_id: str) -> None:
        self.to_node(node_id, {"k": "drain", "edge_id": edge_id})

    def user_ack(self, username: str, ack_text: str) -> None:
        """An ack frame (encoded) for the user's dashboards on the other processes."""
        self.bus.publish(self.user_channel(username), self.wrap("ack", ack_text))

    def wrap(self, kind: str, frame: str) -> str:
        """``origin NL kind NL frame``: the frame travels as it is, not escaped into JSON."""
        return f"{self.node_id}\n{kind}\n{frame}"

    def to_node(self, node_id: str, message: dict[str, Any]) -> None:
        self.bus.publish(self.node_channel(node_id), json.dumps(message))

    def node_channel(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    def user_channel(self, username: str) -> str:
        return f"{self.prefix}:user:{username}"

    def edge_channel(self, edge_id: str) -> str:
        return f"{self.prefix}:edge:{edge_id}"


class Cluster:
    """``inbox``: where commands and drain requests from other processes go (None:
    a process that takes no commands, e.g. in tests)."""

    def __init__(
        self,
        link: ClusterLink,
        hub: Hub,
        *,
        inbox: NodeInbox | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        self.node_id = link.node_id
        self._hub = hub
        self._inbox_handler = inbox
        self._now = wall_clock
        self.registry = link.registry
        self.bus = link.bus
        self._inbox = link.node_channel(self.node_id)
        self._wanted: set[str] = set()  # held here, and some other process shows them live
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Future[None]] = set()
        self._token = uuid.uuid4().hex  # this instance, in the node-id lease
        self._unwritten: dict[str, bool] = {}  # stale flags whose write to Redis failed
        self._stale_task: asyncio.Task[None] | None = None
        self._listeners: dict[str, Callable[[bytes], None]] = {}

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Lease the node id, then join. Raises :class:`NodeIdInUse` when another
        process keeps it: two processes of one name would take each other's
        deliveries and claims.

        A predecessor of this name that died without stopping holds the lease
        until it expires (at most the registry TTL): the start waits that long.
        """
        waited_until = time.monotonic() + self.registry.ttl_s + 2 * _LEASE_POLL_S
        warned = False
        while not await self.registry.take_node(self._token):
            if time.monotonic() > waited_until:
                raise NodeIdInUse(
                    f"another running cloud process is node {self.node_id!r}: give each "
                    "process its own EMS_NODE_ID"
                )
            if not warned:
                log.warning(
                    "node id %s is leased by another process (or one that died): "
                    "waiting up to %.0f s for it to expire",
                    self.node_id,
                    self.registry.ttl_s,
                )
                warned = True
            await asyncio.sleep(_LEASE_POLL_S)
        await self.bus.start(self._inbox, *self._listeners, on_message=self._on_message)
        self._task = asyncio.create_task(self._maintain(), name="cluster")
        self._stale_task = asyncio.create_task(self._write_stale(), name="stale-flags")

    def listen(self, channel: str, handler: Callable[[bytes], None]) -> None:
        """Call ``handler`` with every message of ``channel`` (published by anyone, e.g.
        the auth service's revocations) for the process's life; before :meth:`start`."""
        self._listeners[channel] = handler

    async def stop(self) -> None:
        for task in (self._task, self._stale_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.bus.stop()
        with contextlib.suppress(Exception):  # it expires by itself
            await self.registry.drop_node(self._token)

    # -- edges held here -------------------------------------------------------------
    async def edge_attached(self, session: EdgeSession) -> str | None:
        """Claim the edge; tell its previous holder (another process) to drop its socket.

        Returns that previous holder, or None.
        """
        edge_id = session.edge_id
        previous = await self.registry.claim(edge_id, self._now())
        if previous is not None and previous != self.node_id:
            self.link.to_node(
                previous, {"k": "taken", "edge_id": edge_id, "at": session.connected_at}
            )
        else:
            previous = None
        self.publish_status(edge_id)
        return previous

    async def edge_detached(self, edge_id: str) -> None:
        """Release the claim (unless another process took the edge over meanwhile)."""
        if await self.registry.release(edge_id):
            self.publish_status(edge_id)

    async def remote_owner(self, edge_id: str) -> str | None:
        """The *other* process holding ``edge_id``, or None (here, or offline everywhere)."""
        return await self.link.remote_owner(edge_id)

    def publish_status(self, edge_id: str) -> None:
        self.bus.publish(
            self.link.edge_channel(edge_id),
            self.link.wrap("status", encode(self._hub.status(edge_id))),
        )

    def wants_live(self, edge_id: str) -> bool:
        """Whether another process shows ``edge_id``'s live telemetry (held here)."""
        return edge_id in self._wanted

    def telemetry(self, live: UiTelemetry) -> None:
        """Live telemetry of an edge held here, for dashboards on other processes."""
        self.bus.publish(
            self.link.edge_channel(live.edge_id), self.link.wrap("telemetry", encode(live))
        )

    def alarm(self, edge_id: str, frame_text: str) -> None:
        """An ``alarm`` frame (encoded) for the dashboards subscribed to ``edge_id``,
        here and on every other process (DESIGN 14)."""
        self.to_subscribers(edge_id, "alarm", frame_text)

    def to_subscribers(self, edge_id: str, kind: str, frame_text: str) -> None:
        """A frame (encoded) for the dashboards subscribed to ``edge_id``, here and on
        every other process; ``kind`` labels it on the bus."""
        for ui in self._hub.subscribers.get(edge_id, ()):
            ui.peer.send_text(frame_text)
        self.bus.publish(self.link.edge_channel(edge_id), self.link.wrap(kind, frame_text))

    # -- routing ---------------------------------------------------------------------
    def route_command(self, node_id: str, envelope: str, deadline_s: float) -> None:
        self.link.route_command(node_id, envelope, deadline_s)

    def request_drain(self, node_id: str, edge_id: str) -> None:
        self.link.request_drain(node_id, edge_id)

    def user_ack(self, username: str, ack_text: str) -> None:
        """An ack frame (encoded) for the user's dashboards on the other processes."""
        self.link.user_ack(username, ack_text)

    # -- dashboards here -------------------------------------------------------------
    async def watch_user(self, username: str) -> None:
        await self.bus.subscribe(self.link.user_channel(username))

    async def unwatch_user(self, username: str) -> None:
        await self.bus.unsubscribe(self.link.user_channel(username))

    async def watch_edge(self, edge_id: str) -> None:
        await self.bus.subscribe(self.link.edge_channel(edge_id))
        if edge_id not in self._hub.edges:
            try:
                await self.registry.want([edge_id], self._now() + _WANT_FOR_S)
            except Exception:  # announced again on the next tick
                log.warning("could not announce interest in %s", edge_id, exc_info=True)

    async def unwatch_edge(self, edge_id: str) -> None:
        await self.bus.unsubscribe(self.link.edge_channel(edge_id))

    async def status(self, edge_id: str) -> EdgeStatus:
        """The edge's connection status as every process sees it."""
        return (await self.statuses([edge_id]))[edge_id]

    async def statuses(self, edge_ids: Sequence[str]) -> dict[str, EdgeStatus]:
        elsewhere = [e for e in edge_ids if e not in self._hub.edges]
        owners = await self.registry.owners(elsewhere)
        seen = await self.registry.seen_at(elsewhere)
        stale = await self.registry.stale_edges() if elsewhere else set()
        out: dict[str, EdgeStatus] = {}
        for edge_id in edge_ids:
            if edge_id in self._hub.edges:
                out[edge_id] = self._hub.status(edge_id)
                continue
            at = max(seen.get(edge_id, 0.0), self._hub.last_seen.get(edge_id, 0.0)) or None
            online = owners.get(edge_id) is not None
            out[edge_id] = EdgeStatus(
                edge_id=edge_id,
                online=online,
                last_seen=None if at is None else datetime.fromtimestamp(at, UTC),
                stale=online and edge_id in stale,
            )
        return out

    async def known_edges(self) -> list[str]:
        """Every edge any process has heard from, plus this process's own knowledge."""
        return sorted(set(self._hub.known_edges()) | set(await self.registry.last_seen()))

    # -- the background tick ---------------------------------------------------------
    async def _maintain(self) -> None:
        refresh_every = max(1, int(self.registry.ttl_s / 3 / _TICK_S))
        tick = 0
        while True:
            try:
                await self.tick(refresh=tick % refresh_every == 0, announce=tick % 3 == 0)
            except Exception:
                log.warning("cluster: registry upkeep failed; retrying", exc_info=True)
            tick += 1
            await asyncio.sleep(_TICK_S)

    async def tick(self, *, refresh: bool = True, announce: bool = True) -> None:
        """One round of upkeep (public for tests): mark silent edges stale, keep
        claims, read and announce interest."""
        self._hub.check_stale()
        await self._record_stale()  # what check_stale found, and retries
        now = self._now()
        # Lost when frozen longer than the TTL, or Redis lost it: taken back if free.
        kept = await self.registry.keep_node(self._token)
        if not kept and not await self.registry.take_node(self._token):
            log.error("node id %s is now used by another process", self.node_id)
        held = {e: self._hub.last_seen.get(e, now) for e in self._hub.edges}
        if refresh:
            for edge_id in await self.registry.refresh(held):
                self._drop_stale(edge_id, "another cloud process holds this edge now")
        self._wanted = await self.registry.wanted(now) & set(self._hub.edges) if held else set()
        if announce:
            remote = [e for e in self._hub.subscribers if e not in self._hub.edges]
            await self.registry.want(remote, now + _WANT_FOR_S)

    async def _write_stale(self) -> None:
        """Edges held here that went silent or spoke again (the hub told this process's
        subscribers): record them in Redis, then tell the other processes.

        Changes are written together, one round trip for all that piled up: a
        process so busy that hundreds of edges look silent at once once ran out
        of Redis connections with a write (a task) per edge. Publishing after the
        write means a dashboard elsewhere that hears of it finds ``/api/edges``
        agreeing.
        """
        while True:
            await self._hub.stale_changed.wait()
            await self._record_stale()

    async def _record_stale(self) -> None:
        """Write the stale flags changed since the last call, then publish them."""
        changes = {**self._unwritten, **self._hub.take_stale_changes()}
        self._unwritten = {}
        if not changes:
            return
        try:
            await self.registry.mark_stale_many(changes)
        except Exception as exc:  # retried by the next tick, unless changed meanwhile
            self._unwritten = changes
            log.warning("could not record %d stale flag(s): %r", len(changes), exc)
        for edge_id in changes:
            self.publish_status(edge_id)

    def _drop_stale(self, edge_id: str, why: str, before_s: float | None = None) -> None:
        session = self._hub.edges.get(edge_id)
        if session is None or (before_s is not None and session.connected_at >= before_s):
            return
        log.info("edge %s: closing this process's socket: %s", edge_id, why)
        closing = asyncio.ensure_future(
            session.peer.close(CLOSE_REPLACED, "replaced by a newer connection")
        )
        self._closing.add(closing)  # a reference, so the task is not collected mid-close
        closing.add_done_callback(self._closing.discard)

    # -- messages --------------------------------------------------------------------

    def _on_message(self, channel: str, data: bytes) -> None:
        listener = self._listeners.get(channel)
        if listener is not None:
            listener(data)
            return
        if channel == self._inbox:
            self._on_node_message(json.loads(data))
            return
        origin, kind, frame = data.decode().split("\n", 2)
        if origin == self.node_id:
            return  # published here; local sockets had it directly
        _, scope, name = channel.rsplit(":", 2)
        if scope == "user":
            for ui in self._hub.users.get(name, ()):
                ui.peer.send_text(frame)
        elif scope == "edge":
            droppable = kind == "telemetry"
            for ui in self._hub.subscribers.get(name, ()):
                ui.peer.send_text(frame, droppable=droppable)

    def _on_node_message(self, message: dict[str, Any]) -> None:
        kind = message.get("k")
        if kind in ("command", "drain") and self._inbox_handler is None:
            log.warning("cluster: %s for a process that takes no commands ignored", kind)
        elif kind == "command":
            assert self._inbox_handler is not None
            self._inbox_handler.on_routed(message)
        elif kind == "drain":
            assert self._inbox_handler is not None
            self._inbox_handler.drain(message["edge_id"])
        elif kind == "taken":
            self._drop_stale(
                message["edge_id"],
                "it connected to another cloud process",
                before_s=float(message["at"]),
            )
        else:
            log.warning("cluster: unknown message kind %r ignored", kind)
