"""The ASGI wrapper: scope rewriting for a mount, lifespan, WebSockets refused."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from ems.authsvc.asgi import AuthAsgiApp

Message = MutableMapping[str, Any]


class Recorder:
    """Stands in for Django's handler: remembers the scope it was given."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))


async def _nothing() -> Message:
    raise AssertionError("not expected to receive")


async def _discard(message: Any) -> None:
    pass


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("root_path", "path", "django_root", "django_path"),
    [
        ("", "/auth/token", "", "/auth/token"),  # served alone
        ("/auth", "/auth/token", "", "/auth/token"),  # Starlette mount
        ("/auth", "/token", "", "/auth/token"),  # older Starlette: prefix removed from path
        ("/api/auth", "/api/auth/admin/", "/api", "/api/auth/admin/"),  # behind a prefix
        ("/other", "/other/x", "/other", "/other/x"),  # not ours to change
    ],
)
async def test_the_mount_prefix_goes_back_into_the_path(
    root_path: str, path: str, django_root: str, django_path: str
) -> None:
    inner = Recorder()
    scope = {"type": "http", "root_path": root_path, "path": path, "method": "GET"}
    await AuthAsgiApp(inner)(scope, _nothing, _discard)
    [seen] = inner.scopes
    assert (seen["root_path"], seen["path"]) == (django_root, django_path)
    assert seen["method"] == "GET"
    assert scope["root_path"] == root_path  # the caller's scope is left alone


@pytest.mark.asyncio
async def test_lifespan_is_answered() -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    inner = Recorder()
    await AuthAsgiApp(inner)({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert inner.scopes == []


@pytest.mark.asyncio
async def test_websockets_are_refused() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    inner = Recorder()
    await AuthAsgiApp(inner)({"type": "websocket", "path": "/auth/ws"}, _nothing, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert inner.scopes == []
