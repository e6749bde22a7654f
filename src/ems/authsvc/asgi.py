"""The auth service as an ASGI application, served alone or mounted at ``/auth``.

Django's URL patterns include the ``auth/`` prefix, so served alone (``uvicorn``)
the scope needs no change. Mounted with ``app.mount("/auth", asgi_app())``,
Starlette appends ``/auth`` to ``root_path`` and Django would strip it from the
path and miss every pattern; this wrapper gives that part of ``root_path`` back
to the path, so Django sees ``/auth/token`` either way and ``reverse()`` (admin
links, redirects) yields the public URLs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ems.authsvc.bootstrap import is_configured
from ems.authsvc.errors import AuthConfigError

__all__ = ["MOUNT_PATH", "AsgiApp", "AuthAsgiApp", "asgi_app"]

#: Where the service's URLs live (and where to mount it).
MOUNT_PATH = "/auth"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AuthAsgiApp:
    """Wraps Django's ASGI handler: fixes the mount prefix, answers lifespan, refuses
    WebSockets (Django raises on both)."""

    def __init__(self, django_app: AsgiApp) -> None:
        self._django = django_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await self._django(_unmounted(scope), receive, send)
        else:  # websocket: nothing here speaks it; closing before accept is a 403
            await send({"type": "websocket.close", "code": 1008})


def _unmounted(scope: Scope) -> Scope:
    """The scope as if served at the server's root with the paths under ``/auth``."""
    root_path: str = scope.get("root_path", "")
    if not root_path.endswith(MOUNT_PATH):
        return scope
    path: str = scope["path"]
    if not path.startswith(root_path):
        # Starlette before 0.33 removed the mount prefix from "path"; put it back.
        path = root_path + path
    return {**scope, "root_path": root_path[: -len(MOUNT_PATH)], "path": path}


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to start or stop: Django opens database connections per request.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def asgi_app() -> AuthAsgiApp:
    """The ASGI application; call :func:`ems.authsvc.configure` first."""
    if not is_configured():
        raise AuthConfigError("call ems.authsvc.configure() before asgi_app()")
    from django.core.asgi import get_asgi_application

    return AuthAsgiApp(get_asgi_application())
