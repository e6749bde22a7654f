"""The hot copy of the command records in Redis, shared by every cloud process.

It answers what must be fresh and cheap: a command's history while it runs,
the unfinished commands of a user (a dashboard that reconnects gets their
current status), and an edge's recent commands. It expires (a day by
default); the database keeps the durable copy.

Layout (``P`` is the key prefix, ``C`` a command id, ``U`` a user, ``E`` an edge id):

- ``P:cmd:C`` hash, expiring ``ttl_s`` after its last change:
  ``info`` (the :class:`CommandInfo` JSON, from the first status written),
  ``n`` (events so far), ``e:1`` … ``e:n`` (:class:`StatusEvent` JSON, in the
  order written), ``current`` (the event JSON of the current status) and
  its ``at`` [s], ``terminal`` (``"1"`` once final), ``d:<event JSON>`` (that event's number;
  makes writing the same event twice a no-op, e.g. a retried pipeline)
- ``P:cmd-open:U`` set: the user's commands without a final status yet
- ``P:cmd-edge:E`` sorted set: command id -> ``created_at`` [s], the newest
  ``edge_keep`` commands of the edge

Replies are bytes (see :mod:`ems.cloud.shared.connect`); JSON is decoded here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis_async
from redis.exceptions import NoScriptError

from ems.cloud.records.model import CommandInfo, CommandRecord, StatusChange, StatusEvent

__all__ = ["HotRecords", "OpenCommand"]

DAY_S = 86_400

# Atomicity: appending the event, moving the current status and the unfinished
# set, and indexing the edge are one step, so a reader never sees a command
# whose set membership disagrees with its status, and two processes recording
# statuses of one command cannot interleave inside a change. The current status
# follows model.supersedes (terminal is final; else the later time wins); the
# comparison of times runs on Lua doubles, exact for epoch seconds with µs.
# A command's first event writes everything in one HSET and indexes the edge;
# later ones read what they compare with in one HMGET and write in one HSET.
# The user's open set is only touched when membership changes: a later
# non-terminal status of a command whose current status is already
# non-terminal (``terminal`` "0") finds it there, added by that earlier write.
# Inner calls: 8 for the first event, 3 for a later non-terminal one, 4 for a
# final one (the command path writes three per command: 15, against 24 when
# every event read and wrote each field on its own).
# KEYS: record hash, user's open set, edge's sorted set.
# ARGV: info JSON, event JSON, terminal (0/1), at [s], command id, created_at [s],
#       ttl [s], edge keep. Returns the event's number in the record.
_RECORD = """
local got = redis.call('HMGET', KEYS[1], 'd:' .. ARGV[2], 'n', 'terminal', 'at')
if got[1] then return tonumber(got[1]) end
local n = (tonumber(got[2]) or 0) + 1
local current = true
local listed = false
if n == 1 then
  redis.call('HSET', KEYS[1], 'n', n, 'info', ARGV[1], 'e:1', ARGV[2], 'd:' .. ARGV[2], n,
    'current', ARGV[2], 'terminal', ARGV[3], 'at', ARGV[4])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[6], ARGV[5])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[8]) - 1)
  redis.call('EXPIRE', KEYS[3], ARGV[7])
else
  current = got[3] ~= '1'
    and (ARGV[3] == '1' or not got[4] or tonumber(ARGV[4]) >= tonumber(got[4]))
  listed = got[3] == '0'
  if current then
    redis.call('HSET', KEYS[1], 'n', n, 'e:' .. n, ARGV[2], 'd:' .. ARGV[2], n,
      'current', ARGV[2], 'terminal', ARGV[3], 'at', ARGV[4])
  else
    redis.call('HSET', KEYS[1], 'n', n, 'e:' .. n, ARGV[2], 'd:' .. ARGV[2], n)
  end
end
if current then
  if ARGV[3] == '1' then
    redis.call('SREM', KEYS[2], ARGV[5])
  elseif not listed then
    redis.call('SADD', KEYS[2], ARGV[5])
    redis.call('EXPIRE', KEYS[2], ARGV[7])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
return n
"""


@dataclass(frozen=True, slots=True)
class OpenCommand:
    """A command's current status, as the hot copy holds it."""

    command: CommandInfo
    current: StatusEvent
    terminal: bool


class HotRecords:
    """The Redis copy; see the module docstring for the layout.

    ``ttl_s``: how long a record (and a user's open set, an edge's index)
    lives after its last change [s]. ``edge_keep``: how many recent commands
    the per-edge index keeps.
    """

    def __init__(
        self,
        redis: redis_async.Redis,
        key_prefix: str = "ems",
        *,
        ttl_s: int = DAY_S,
        edge_keep: int = 1000,
    ) -> None:
        if ttl_s < 1 or edge_keep < 1:
            raise ValueError("ttl_s and edge_keep must be >= 1")
        self._redis = redis
        self.key_prefix = key_prefix
        self._ttl_s = ttl_s
        self._edge_keep = edge_keep
        self._record = redis.register_script(_RECORD)

    def _cmd(self, command_id: str) -> str:
        return f"{self.key_prefix}:cmd:{command_id}"

    def _open(self, user: str) -> str:
        return f"{self.key_prefix}:cmd-open:{user}"

    def _edge(self, edge_id: str) -> str:
        return f"{self.key_prefix}:cmd-edge:{edge_id}"

    async def write(self, changes: Sequence[StatusChange]) -> None:
        """Apply ``changes`` in order, in one round trip. Safe to repeat."""
        if not changes:
            return
        # Not a MULTI: each script is atomic on its own, and a retry of a partly
        # applied pipeline skips the events already written (the d: fields).
        # EVALSHA directly: a pipeline of Script calls asks SCRIPT EXISTS first,
        # one more round trip per write; the script is loaded only when missing.
        try:
            await self._pipeline(changes).execute()
        except NoScriptError:
            await self._redis.script_load(_RECORD)
            await self._pipeline(changes).execute()

    def _pipeline(self, changes: Sequence[StatusChange]) -> Any:
        pipe = self._redis.pipeline(transaction=False)
        sha = self._record.sha
        for change in changes:
            c, e = change.command, change.event
            pipe.evalsha(
                sha,
                3,
                self._cmd(c.command_id),
                self._open(c.user),
                self._edge(c.edge_id),
                c.to_json(),
                e.to_json(),
                int(e.terminal),
                repr(e.at),
                c.command_id,
                repr(c.created_at),
                self._ttl_s,
                self._edge_keep,
            )
        return pipe

    async def get(self, command_id: str) -> CommandRecord | None:
        """The record with its history in the order written, or ``None``."""
        raw: dict[bytes | str, bytes | str] = await self._redis.hgetall(self._cmd(command_id))
        fields = {_text(k): v for k, v in raw.items()}
        info = fields.get("info")
        count = int(fields.get("n", b"0"))
        if info is None or count == 0:
            return None
        events = [fields[f"e:{i}"] for i in range(1, count + 1)]
        return CommandRecord.from_events(
            CommandInfo.from_json(info), (StatusEvent.from_json(e) for e in events)
        )

    async def current(self, command_ids: Iterable[str]) -> list[OpenCommand]:
        """The current status of each of ``command_ids`` still in Redis (others are skipped)."""
        ids = list(dict.fromkeys(command_ids))
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for command_id in ids:
            pipe.hmget(self._cmd(command_id), ["info", "current", "terminal"])
        replies: list[list[bytes | None]] = await pipe.execute()  # bytes: see the module doc
        out = []
        for info, current, terminal in replies:
            if info is not None and current is not None:
                out.append(
                    OpenCommand(
                        CommandInfo.from_json(info),
                        StatusEvent.from_json(current),
                        terminal == b"1",
                    )
                )
        return out

    async def unfinished(self, user: str, also: Iterable[str] = ()) -> list[OpenCommand]:
        """The current status of ``user``'s unfinished commands, and of ``also``'s
        commands whatever their status; oldest first."""
        members: set[bytes | str] = await self._redis.smembers(self._open(user))
        ids = [_text(m) for m in members]
        found = await self.current([*ids, *also])
        # A record that expired leaves its id behind in the set: tidy it away.
        gone = set(ids) - {o.command.command_id for o in found}
        if gone:
            await self._redis.srem(self._open(user), *gone)
        mine = [o for o in found if o.command.user == user]
        return sorted(mine, key=lambda o: (o.command.created_at, o.command.command_id))

    async def recent_for_edge(self, edge_id: str, limit: int) -> list[CommandRecord]:
        """Up to ``limit`` of the edge's newest commands still in Redis, newest first,
        without history."""
        ids: list[Any] = await self._redis.zrevrange(self._edge(edge_id), 0, limit - 1)
        found = await self.current(_text(i) for i in ids)
        return [
            CommandRecord(o.command, o.current.status, o.current.reason, o.terminal, o.current.at)
            for o in found
        ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
