"""Each edge's latest inventory (its devices and their profiles), shared by cloud processes.

Commands for an offline edge are validated against the devices it reported
last, so that report must outlive the connection, a restart of the cloud
process and the process the edge happens to be connected to.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as redis_async

__all__ = ["Inventories"]


class Inventories:
    """``P:inventory`` hash: edge id -> JSON list of ``{"id", "profile"}``; beside it
    ``P:controllers``: edge id -> JSON list of its controllers (``ControllerRef``)."""

    def __init__(self, redis: redis_async.Redis, key_prefix: str = "ems") -> None:
        self._redis = redis
        self._key = f"{key_prefix}:inventory"
        # A hash of its own: the device lists keep the shape older processes read.
        self._controllers_key = f"{key_prefix}:controllers"

    async def save_controllers(self, edge_id: str, controllers: list[dict[str, Any]]) -> None:
        await self._redis.hset(self._controllers_key, edge_id, json.dumps(controllers))

    async def get_controllers(self, edge_id: str) -> list[dict[str, Any]]:
        raw = await self._redis.hget(self._controllers_key, edge_id)
        return [] if raw is None else _controllers(raw)

    async def all_controllers(self) -> dict[str, list[dict[str, Any]]]:
        raw = await self._redis.hgetall(self._controllers_key)
        return {_text(edge): _controllers(items) for edge, items in raw.items()}

    async def save(self, edge_id: str, devices: list[dict[str, str]]) -> None:
        await self._redis.hset(self._key, edge_id, json.dumps(devices))

    async def get(self, edge_id: str) -> list[dict[str, str]] | None:
        raw = await self._redis.hget(self._key, edge_id)
        return None if raw is None else _devices(raw)

    async def all(self) -> dict[str, list[dict[str, str]]]:
        raw = await self._redis.hgetall(self._key)
        return {_text(edge): _devices(devices) for edge, devices in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _devices(raw: bytes | str) -> list[dict[str, str]]:
    devices: list[dict[str, str]] = json.loads(raw)
    return devices


def _controllers(raw: bytes | str) -> list[dict[str, Any]]:
    controllers: list[dict[str, Any]] = json.loads(raw)
    return controllers
