"""A real ``ems edge`` process against a :class:`~support.fake_cloud.FakeCloud`:
start it, wait for its first cycle, read its battery setpoint.

Shared by the integration tests that kill and restart an edge and script what
the cloud delivers around that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ems.edge.config import demo_config_path
from support.fake_cloud import FakeCloud
from support.processes import EmsProcess

__all__ = ["EDGE_ID", "START_S", "edge_started", "setpoint_w", "start_edge", "write_demo_config"]

EDGE_ID = "site-9"
#: How long an edge process may take from spawn to its first cycle on a busy machine [s].
START_S = 60.0


def write_demo_config(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The demo site's config with ``change`` applied to its document, written to ``path``."""
    document: dict[str, Any] = yaml.safe_load(demo_config_path().read_text("utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def start_edge(
    cloud: FakeCloud,
    data: Path,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> EmsProcess:
    """``ems edge`` as :data:`EDGE_ID` connected to ``cloud``, its state under ``data``,
    with ``env`` added to its environment.

    Without ``config`` it runs the demo site.
    """
    key = data / "edge.key"
    key.write_text("any-key-the-fake-cloud-accepts\n")
    config_args = [] if config is None else ["--config", str(config)]
    return EmsProcess(
        [
            "edge",
            *config_args,
            "--cloud",
            cloud.url,
            "--edge-id",
            EDGE_ID,
            "--api-key-file",
            str(key),
            "--data-dir",
            str(data),
            "--no-table",
        ],
        env,
    )


async def edge_started(cloud: FakeCloud, since: datetime) -> None:
    """The edge is connected and its cycle runs (a frame taken after ``since`` arrived)."""
    await cloud.next("inventory", timeout_s=START_S)
    await cloud.next("telemetry", lambda f: f.ts >= since, timeout_s=START_S)


async def setpoint_w(cloud: FakeCloud, since: datetime) -> Any:
    """The battery setpoint in the edge's next telemetry frame taken after ``since``."""
    frame = await cloud.next(
        "telemetry", lambda f: f.ts >= since and "battery_1/SetActivePower" in f.channels
    )
    return frame.channels["battery_1/SetActivePower"].v
