"""Every alarm's current state in Redis, shared by all cloud processes (DESIGN 7, 14).

A transition is applied with one Lua script that compares the stored state
with the event's ``from_state`` and writes the new record only when they
match: of two processes that computed the same transition (an edge that moved,
an operator acknowledging on another process), exactly one wins. The loser
reloads the stored record and judges again (:mod:`ems.cloud.alarms.service`).
An alarm never stored counts as ``cleared``, the state a new alarm starts in.

Keys (``<p>``: the key prefix): ``<p>:alarm:<id>`` a hash (``state``,
``record`` JSON, ``notified`` ``<since_s>:<level>``), ``<p>:alarms`` and
``<p>:alarms:edge:<edge_id>`` sets of ids.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as redis_async

from ems.alarms import Alarm, AlarmState, Severity

__all__ = ["SharedAlarms", "alarm_from_json", "alarm_to_json"]

_APPLY = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then current = 'cleared' end
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'record', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""

# Each notification level of one raise (``since_s``) is claimed once, by one process.
_CLAIM_LEVEL = """
local current = redis.call('HGET', KEYS[1], 'notified')
if current then
  local sep = string.find(current, ':', 1, true)
  local since = string.sub(current, 1, sep - 1)
  local level = tonumber(string.sub(current, sep + 1))
  if since == ARGV[1] and level >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], 'notified', ARGV[1] .. ':' .. ARGV[2])
return 1
"""


def alarm_to_json(alarm: Alarm) -> str:
    return json.dumps(
        {
            "alarm_id": alarm.alarm_id,
            "edge_id": alarm.edge_id,
            "rule": alarm.rule,
            "severity": alarm.severity.value,
            "state": alarm.state.value,
            "condition": alarm.condition,
            "value": alarm.value,
            "since_s": alarm.since_s,
            "acked_by": alarm.acked_by,
            "shelved_by": alarm.shelved_by,
            "shelved_until_s": alarm.shelved_until_s,
            "shelve_reason": alarm.shelve_reason,
        }
    )


def alarm_from_json(text: str | bytes) -> Alarm:
    d: dict[str, Any] = json.loads(text)
    return Alarm(
        alarm_id=d["alarm_id"],
        edge_id=d["edge_id"],
        rule=d["rule"],
        severity=Severity(d["severity"]),
        state=AlarmState(d["state"]),
        condition=bool(d["condition"]),
        value=d["value"],
        since_s=d["since_s"],
        acked_by=d["acked_by"],
        shelved_by=d["shelved_by"],
        shelved_until_s=d["shelved_until_s"],
        shelve_reason=d["shelve_reason"],
    )


class SharedAlarms:
    def __init__(self, redis: redis_async.Redis, *, key_prefix: str = "ems") -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._apply = redis.register_script(_APPLY)
        self._claim = redis.register_script(_CLAIM_LEVEL)

    def _key(self, alarm_id: str) -> str:
        return f"{self._prefix}:alarm:{alarm_id}"

    def _edge_key(self, edge_id: str) -> str:
        return f"{self._prefix}:alarms:edge:{edge_id}"

    async def apply(self, from_state: AlarmState, alarm: Alarm) -> bool:
        """Store ``alarm`` (after a transition) if the stored state is still ``from_state``."""
        won = await self._apply(
            keys=[
                self._key(alarm.alarm_id),
                f"{self._prefix}:alarms",
                self._edge_key(alarm.edge_id),
            ],
            args=[from_state.value, alarm.state.value, alarm_to_json(alarm), alarm.alarm_id],
        )
        return bool(won)

    async def get(self, alarm_id: str) -> Alarm | None:
        record = await self._redis.hget(self._key(alarm_id), "record")
        return None if record is None else alarm_from_json(record)

    async def all(self, edge_id: str | None = None) -> list[Alarm]:
        index = f"{self._prefix}:alarms" if edge_id is None else self._edge_key(edge_id)
        members = await self._redis.smembers(index)
        ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for alarm_id in ids:
                pipe.hget(self._key(alarm_id), "record")
            records = await pipe.execute()
        return [alarm_from_json(r) for r in records if r is not None]

    async def claim_level(self, alarm: Alarm, level: int) -> bool:
        """Whether this process is the one to send notification ``level`` of the alarm's
        current raise (``since_s``); each level of a raise is claimed once."""
        won = await self._claim(
            keys=[self._key(alarm.alarm_id)], args=[repr(alarm.since_s), str(level)]
        )
        return bool(won)
