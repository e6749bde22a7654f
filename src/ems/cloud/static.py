"""The dashboard's exported files (``web/out``), served at ``/`` by the cloud.

Mounted after every other route, so ``/api``, ``/ws``, ``/auth``, ``/docs`` and
``/healthz`` keep priority. When the dashboard has not been built the cloud
runs without it and says how to build it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = ["DashboardFiles", "DashboardSettings", "default_dashboard_dir", "mount_dashboard"]

log = logging.getLogger(__name__)


def default_dashboard_dir() -> Path:
    """``web/out`` of the source tree this package runs from (an editable install)."""
    return Path(__file__).resolve().parents[3] / "web" / "out"


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_", extra="ignore", frozen=True)

    dashboard_dir: Path = Field(
        default_factory=default_dashboard_dir,
        description="The exported dashboard (``npm run build`` in web/); served at / when present",
    )


class DashboardFiles(StaticFiles):
    """Static files that answer a stray WebSocket with a close instead of an assertion."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        await super().__call__(scope, receive, send)


def mount_dashboard(app: FastAPI, directory: Path | None = None) -> bool:
    """Serve the exported dashboard at ``/``; ``False`` (and a hint in the log) when absent.

    Call this last: a mount at ``/`` takes every path that no earlier route took.
    """
    root = directory if directory is not None else DashboardSettings().dashboard_dir
    if not (root / "index.html").is_file():
        log.warning(
            "dashboard not built (no %s): the cloud serves the API only; "
            "run `make web` (npm ci && npm run build in web/) to serve it at /",
            root / "index.html",
        )
        return False
    app.mount("/", DashboardFiles(directory=root, html=True), name="dashboard")
    log.info("dashboard served at / from %s", root)
    return True
