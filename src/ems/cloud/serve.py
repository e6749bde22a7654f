"""Running the cloud under uvicorn, alone (``ems cloud``) or with the demo site (``ems demo``)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from typing import Any

import uvicorn
from fastapi import FastAPI

from ems.cloud.settings import CloudSettings, add_cloud_log_file

__all__ = ["make_server", "serve_cloud"]

log = logging.getLogger(__name__)


def make_server(app: FastAPI, settings: CloudSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_per_message_deflate=False,  # compression on untrusted input is a memory risk
        ws_max_size=max(settings.edge_max_frame_bytes, settings.ui_max_frame_bytes),
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_config=None,  # our own logging setup
        access_log=False,
        lifespan="on",
        server_header=False,
        # Open sockets (dashboards, edges) must not hold a shutdown up forever.
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


async def serve_cloud(settings: CloudSettings) -> None:
    from ems.cloud.app import create_app

    server = make_server(create_app(settings), settings)
    if settings.reuse_port:
        await server.serve(sockets=[reuse_port_socket(settings.host, settings.port)])
    else:
        await server.serve()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (``SO_REUSEPORT``): the kernel
    spreads new connections over every process listening on the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_cloud(settings: CloudSettings) -> int:
    if settings.workers > 1:
        from ems.cloud.workers import Supervisor

        return Supervisor(settings).run()
    if settings.supervisor_pid is not None:
        from ems.cloud.supervised import bind_to_supervisor

        bind_to_supervisor(settings.supervisor_pid)
    add_cloud_log_file(settings)
    log.info("cloud listening on http://%s:%d", settings.host, settings.port)
    run_loop(serve_cloud(settings))
    return 0


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it exists (Linux, macOS), else on asyncio's own loop.

    The cloud spends most of its time in the event loop (socket reads and writes,
    Redis round trips); libuv's loop roughly halves that cost.
    """
    try:
        import uvloop
    except ImportError:  # e.g. Windows: the standard loop does the same, slower
        asyncio.run(main)
        return
    uvloop.run(main)
