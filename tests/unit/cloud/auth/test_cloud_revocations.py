"""The cloud's cache of revoked sessions: loaded at start, fed by the channel, reloaded.

On the embedded store, with the messages published the way the auth service
publishes them (a synchronous client of the same store, from another thread).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import pytest_asyncio

from ems.authsvc import revocation as publisher
from ems.cloud.auth.revocations import CLOSE_REVOKED, Revocations
from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.cloud.peer import Peer
from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.cloud.shared.bus import Bus
from ems.protocol.revocation import EdgeKeysRevoked, UserRevoked, revoked_users_key

WAIT_S = 5.0
T0 = 1_800_000_000.0


@dataclass(eq=False)
class FakePeer:
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    code: int | None = None
    reason: str = ""

    def send(self, frame: Any, droppable: bool = False) -> bool:
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.code, self.reason = code, reason
        self.closed.set()

    @property
    def as_peer(self) -> Peer:
        return cast(Peer, self)


@dataclass
class Node:
    hub: Hub
    revocations: Revocations

    def dashboard(self, username: str, issued_at_s: float) -> FakePeer:
        peer = FakePeer()
        session = UiSession(username, "operator", peer.as_peer, T0 + 900, token_iat_s=issued_at_s)
        self.hub.attach_ui(session)
        return peer


@pytest_asyncio.fixture
async def node() -> AsyncIterator[Node]:
    reset_embedded_server()
    publisher.use_redis(None)  # the auth service in this process: the embedded store
    redis = shared_redis(None)
    hub = Hub()
    revocations = Revocations(redis, hub, refresh_s=3600)
    # The cloud subscribes through its Cluster's bus (Cluster.listen); the same Bus here.
    bus = Bus(redis, lambda _channel, data: revocations.on_message(data))
    await bus.start(revocations.channel)
    await revocations.start()
    yield Node(hub, revocations)
    await revocations.stop()
    await bus.stop()
    await redis.aclose()
    reset_embedded_server()


async def _publish(message: UserRevoked) -> None:
    # As Django does it: a synchronous client, on a worker thread.
    await asyncio.to_thread(publisher.publish_user, message)


@pytest.mark.asyncio
async def test_a_published_revocation_closes_older_sockets_and_refuses_older_tokens(
    node: Node,
) -> None:
    old = node.dashboard("olga", issued_at_s=T0)
    newer = node.dashboard("olga", issued_at_s=T0 + 20)
    other = node.dashboard("otto", issued_at_s=T0)

    await _publish(UserRevoked("olga", T0 + 10, "logout"))

    await asyncio.wait_for(old.closed.wait(), WAIT_S)
    assert (old.code, old.reason) == (CLOSE_REVOKED, "token revoked")
    assert node.revocations.revoked("olga", T0 + 9.999)
    assert not node.revocations.revoked("olga", T0 + 10)  # signed in again since
    assert not node.revocations.revoked("otto", T0)
    assert not newer.closed.is_set() and not other.closed.is_set()


@pytest.mark.asyncio
async def test_a_claims_change_asks_for_a_refresh(node: Node) -> None:
    peer = node.dashboard("olga", issued_at_s=T0)
    await _publish(UserRevoked("olga", T0 + 1, "claims_changed"))
    await asyncio.wait_for(peer.closed.wait(), WAIT_S)
    assert (peer.code, peer.reason) == (CLOSE_REVOKED, "token outdated: refresh it")


@pytest.mark.asyncio
async def test_an_older_moment_arriving_late_does_not_undo_a_newer_one(node: Node) -> None:
    node.revocations.on_message(UserRevoked("olga", T0 + 10, "revoked").encode().encode())
    node.revocations.on_message(UserRevoked("olga", T0 + 5, "revoked").encode().encode())
    assert node.revocations.revoked("olga", T0 + 9)


@pytest.mark.asyncio
async def test_a_missed_message_is_caught_by_the_periodic_reload(node: Node) -> None:
    peer = node.dashboard("olga", issued_at_s=T0)
    # Written to the hash, but the message never came (pub/sub is at most once).
    redis = shared_redis(None)
    await redis.hset(revoked_users_key(), "olga", repr(T0 + 1))
    await redis.aclose()
    assert not node.revocations.revoked("olga", T0)

    await node.revocations.reload()

    assert node.revocations.revoked("olga", T0)
    await asyncio.wait_for(peer.closed.wait(), WAIT_S)


@pytest.mark.asyncio
async def test_a_reload_ahead_of_the_message_closes_with_the_messages_reason(node: Node) -> None:
    """The hash is written just before the message is published: a periodic reload in
    between must not turn a grant change ("refresh it") into a plain revocation."""
    peer = node.dashboard("olga", issued_at_s=T0)
    revocation = UserRevoked("olga", T0 + 1, "claims_changed")
    redis = shared_redis(None)
    await redis.hset(revoked_users_key(), "olga", f"{revocation.before_s!r} {revocation.why}")
    await redis.aclose()

    await node.revocations.reload()  # the message is still on its way
    await asyncio.wait_for(peer.closed.wait(), WAIT_S)
    assert (peer.code, peer.reason) == (CLOSE_REVOKED, "token outdated: refresh it")


@pytest.mark.asyncio
async def test_a_process_starting_later_loads_what_was_revoked_before(node: Node) -> None:
    await _publish(UserRevoked("olga", T0 + 1, "revoked"))
    redis = shared_redis(None)
    late = Revocations(redis, Hub(), refresh_s=3600)
    await late.start()
    try:
        assert late.revoked("olga", T0)
        assert not late.revoked("olga", T0 + 1)
    finally:
        await late.stop()
        await redis.aclose()


@pytest.mark.asyncio
async def test_an_extra_source_is_read_on_reload() -> None:
    reset_embedded_server()
    redis = shared_redis(None)

    async def database() -> dict[str, float]:
        return {"rex": T0 + 1}

    revocations = Revocations(redis, Hub(), refresh_s=3600, extra_source=database)
    try:
        await revocations.reload()
        assert revocations.revoked("rex", T0)
    finally:
        await redis.aclose()
        reset_embedded_server()


@pytest.mark.asyncio
async def test_a_revoked_edge_key_closes_only_the_socket_that_used_it(node: Node) -> None:
    used, spare = FakePeer(), FakePeer()
    node.hub.attach_edge(EdgeSession("site-1", used.as_peer, key_id="aaaaaaaaaaaa"))
    node.hub.attach_edge(EdgeSession("site-2", spare.as_peer, key_id="bbbbbbbbbbbb"))

    node.revocations.on_message(EdgeKeysRevoked("site-2", ("aaaaaaaaaaaa",)).encode().encode())
    node.revocations.on_message(EdgeKeysRevoked("site-1", ("aaaaaaaaaaaa",)).encode().encode())

    await asyncio.wait_for(used.closed.wait(), WAIT_S)
    assert (used.code, used.reason) == (CLOSE_REVOKED, "API key revoked")
    assert not spare.closed.is_set()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        json.dumps({"kind": "user", "username": "olga", "before": "soon", "why": "logout"}),
        json.dumps({"kind": "user", "username": "olga", "before": T0, "why": "because"}),
        json.dumps({"kind": "edge_keys", "edge_id": "site-1", "key_ids": "abc"}),
        json.dumps({"kind": "shutdown"}),
    ],
)
async def test_a_malformed_message_is_ignored(node: Node, data: bytes | str) -> None:
    peer = node.dashboard("olga", issued_at_s=T0)
    node.revocations.on_message(data.encode() if isinstance(data, str) else data)
    assert not node.revocations.revoked("olga", T0)
    assert not peer.closed.is_set()
