"""``ems demo``: auth, cloud and the demo site's edge in one process on one port.

Embedded stores live in the data directory. The users ``operator`` and
``viewer`` get the password from ``EMS_DEMO_PASSWORD`` (or a generated one,
printed) and are granted the demo edge, and ``site-1`` gets an API key kept in
the data directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from fastapi import FastAPI

from ems.cloud.settings import CloudSettings, add_cloud_log_file

__all__ = ["run_demo"]

log = logging.getLogger(__name__)

DEMO_USERS = (("operator", "operator"), ("viewer", "viewer"))


def _ensure_users(password: str, edge_ids: list[str]) -> None:
    import ems.authsvc as authsvc

    for username, role in DEMO_USERS:
        try:
            authsvc.create_user(username, role, password, edges=edge_ids)
        except authsvc.UserExists:
            authsvc.set_password(username, password)
            authsvc.grant_edges(username, edge_ids)


def _edge_key(data_dir: Path, edge_id: str) -> str:
    """The demo edge's key: reused while the auth service still accepts it."""
    import ems.authsvc as authsvc

    path = data_dir / "edge" / f"{edge_id}.key"
    if path.exists():
        key = path.read_text("utf-8").strip()
        if authsvc.verify_edge_key(edge_id, key):
            return key
    key = authsvc.create_edge_key(edge_id, label="ems demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n", "utf-8")
    return key


async def _serve(
    settings: CloudSettings, app: FastAPI, password: str, key: str, config_path: Path | None
) -> None:
    from ems.cloud.serve import make_server
    from ems.edge.config import load_edge_config
    from ems.edge.connected import serve_connected

    config = load_edge_config(config_path)
    server = make_server(app, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():  # e.g. the port is taken
            await serving
            return
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.port
    base = f"http://{settings.host}:{port}"
    print(
        f"\nEMS demo on {base}\n"
        f"  users: operator / viewer, password: {password}\n"
        f"  token: curl -X POST {base}/auth/token -H 'Content-Type: application/json' "
        f'-d \'{{"username":"operator","password":"{password}"}}\'\n'
        f"  live:  ws://{settings.host}:{port}/ws/ui?token=<access token>\n"
        f"  API:   {base}/docs   admin: {base}/auth/admin/\n"
        f"  data:  {settings.data_dir.resolve()}\n",
        file=sys.stderr,
        flush=True,
    )
    edge_config = config.model_copy(update={"cloud": config.cloud.model_copy(update={"url": base})})
    edge = asyncio.create_task(
        serve_connected(edge_config, base, key, settings.data_dir / "edge" / config.edge_id, stop)
    )
    await stop.wait()
    await edge
    server.should_exit = True
    await serving


def run_demo(
    port: int, data_dir: Path, host: str = "127.0.0.1", config_path: Path | None = None
) -> int:
    """``config_path``: the site (default: the shipped demo site, ``site-1``)."""
    from ems.cloud.app import create_app

    settings = CloudSettings(host=host, port=port, data_dir=data_dir)
    add_cloud_log_file(settings)
    app = create_app(settings)  # configures the auth service
    # Django's database work happens here, before the event loop starts.
    password = os.environ.get("EMS_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    from ems.edge.config import load_edge_config

    edge_id = load_edge_config(config_path).edge_id  # default: ems/edge/sites/demo.yaml
    _ensure_users(password, [edge_id])
    key = _edge_key(settings.data_dir, edge_id)
    asyncio.run(_serve(settings, app, password, key, config_path))
    return 0
