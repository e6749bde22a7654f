"""Revoked sessions, as this cloud process knows them: a local cache fed by Redis.

The auth service writes a user's "revoked before" moment to Redis and publishes
it (:mod:`ems.protocol.revocation`). Checking a token costs one dictionary
lookup, no Redis round trip, so it can run on every command. The cache is:

- loaded from the ``revoked-users`` hash when the process starts (a restarted
  process refuses what was revoked while it was down);
- updated by every message on the revocations channel, which also closes at once
  (4401) this process's sockets of that user holding an older token, and the
  socket of an edge whose key was revoked;
- reloaded every ``refresh_s`` (pub/sub is at-most-once: a message missed while
  the subscription reconnected is found there), after which every socket is
  checked again. So a missed message delays a revocation by at most
  ``refresh_s`` instead of forever. ``extra_source`` adds the auth database
  itself when this process serves ``/auth`` (a revocation made without Redis).

Times are seconds since the Unix epoch (the auth service's clock: ``iat`` and
the revocation moment both come from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import redis.asyncio as redis_async

from ems.cloud.background import BackgroundLoop
from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.protocol.revocation import (
    KEY_PREFIX,
    EdgeKeysRevoked,
    UserRevoked,
    decode_revocation,
    revocations_channel,
    revoked_users_key,
)

__all__ = ["CLOSE_REVOKED", "ExtraSource", "Revocations"]

log = logging.getLogger(__name__)

#: The close code of a socket whose token or key was revoked (as for a refused token).
CLOSE_REVOKED = 4401

#: Another place to read revocations from: username -> revoked before [s].
ExtraSource = Callable[[], Awaitable[Mapping[str, float]]]


class Revocations:
    def __init__(
        self,
        redis: redis_async.Redis,
        hub: Hub,
        *,
        refresh_s: float = 5.0,
        extra_source: ExtraSource | None = None,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self._redis = redis
        self._hub = hub
        self._refresh_s = refresh_s
        self._extra = extra_source
        self._key = revoked_users_key(key_prefix)
        self.channel = revocations_channel(key_prefix)
        self._before: dict[str, float] = {}
        self._why: dict[str, str] = {}  # why the latest revocation of each user was made
        self._loop = BackgroundLoop("revocations", self._keep)
        self._closing: set[asyncio.Future[None]] = set()
        self.reloads = 0  # for tests and metrics

    # -- the check (per connection, per request, per command) -----------------------
    def revoked(self, username: str, issued_at_s: float) -> bool:
        """Whether a token of ``username`` issued at ``issued_at_s`` was revoked since."""
        before = self._before.get(username)
        return before is not None and issued_at_s < before

    def session_revoked(self, session: UiSession) -> bool:
        return self.revoked(session.username, session.token_iat_s)

    # -- keeping the cache -----------------------------------------------------------
    async def start(self) -> None:
        """Load what Redis holds (raises if Redis is unreachable: better not to serve
        than to accept revoked tokens), then keep reloading in the background."""
        await self.reload()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        for closing in list(self._closing):
            with contextlib.suppress(Exception):
                await closing

    async def reload(self) -> None:
        """Read the whole hash (and the extra source), then close what is now revoked."""
        stored = await self._redis.hgetall(self._key)
        for name, value in stored.items():
            try:
                username = name.decode() if isinstance(name, bytes) else str(name)
                text = value.decode() if isinstance(value, bytes) else str(value)
                before_text, _, why = text.partition(" ")  # a bare number: older writers
                self._merge(username, float(before_text), why or "revoked")
            except (ValueError, UnicodeDecodeError):
                log.warning("revocations: unreadable entry %r ignored", name[:64])
        if self._extra is not None:
            for username, before in (await self._extra()).items():
                self._merge(username, before)
        self.reloads += 1
        self.sweep()

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.reload()
            except Exception:
                log.warning("revocations: reload failed; keeping the cache", exc_info=True)

    def _merge(self, username: str, before_s: float, why: str = "revoked") -> None:
        # Only ever later: an older moment arriving late must not un-revoke anything.
        if before_s > self._before.get(username, float("-inf")):
            self._before[username] = before_s
            self._why[username] = why

    # -- from the channel --------------------------------------------------------------
    def on_message(self, data: bytes) -> None:
        try:
            message = decode_revocation(data)
        except ValueError as exc:
            log.warning("revocations: malformed message ignored: %s", exc)
            return
        if isinstance(message, UserRevoked):
            self._merge(message.username, message.before_s, message.why)
            log.info("revocation: user %s (%s)", message.username, message.why)
            for session in list(self._hub.users.get(message.username, ())):
                self._close_ui(session, message.why)
        elif isinstance(message, EdgeKeysRevoked):
            edge = self._hub.edges.get(message.edge_id)
            if edge is not None and edge.key_id in message.key_ids:
                self._close_edge(edge)

    def sweep(self) -> None:
        """Close every dashboard socket here whose token is revoked."""
        for sessions in list(self._hub.users.values()):
            for session in list(sessions):
                if self.session_revoked(session):
                    self._close_ui(session, self._why.get(session.username, "revoked"))

    def _close_ui(self, session: UiSession, why: str) -> None:
        if not self.session_revoked(session):
            return  # signed in again after the revocation
        reason = "token outdated: refresh it" if why == "claims_changed" else "token revoked"
        self._close(session.peer.close(CLOSE_REVOKED, reason))

    def _close_edge(self, session: EdgeSession) -> None:
        log.info("edge %s: its API key was revoked; closing its socket", session.edge_id)
        self._close(session.peer.close(CLOSE_REVOKED, "API key revoked"))

    def _close(self, closing: Awaitable[None]) -> None:
        future = asyncio.ensure_future(closing)
        self._closing.add(future)  # a reference, so the task is not collected mid-close
        future.add_done_callback(self._closing.discard)
