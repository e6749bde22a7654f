"""An edge whose devices use ``driver: sunspec``, and commands sent through its request path."""

from __future__ import annotations

from typing import Any

from ems.clock import Clock, RealClock
from ems.edge.config import parse_edge_config
from ems.edge.executions import Execution
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.timefmt import to_rfc3339

#: Short timeouts: a test against a dead device gives up in well under a second.
FAST = {"poll_s": 0.05, "timeout_s": 0.2, "retries": 1, "backoff_s": 0.01}


def sunspec_device(device_id: str, profile: str, port: int, **params: Any) -> dict[str, Any]:
    return {
        "id": device_id,
        "profile": profile,
        "driver": "sunspec",
        "params": {"host": "127.0.0.1", "port": port, "unit_id": 1, **FAST, **params},
    }


def sunspec_edge(
    *devices: dict[str, Any],
    executions: list[Execution] | None = None,
    clock: Clock | None = None,
) -> EdgeRuntime:
    """An edge with ``devices`` and the manual override (the operator's commands)."""
    doc = {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": list(devices),
        "controllers": [{"id": "manual_override", "type": "manual_override", "priority": 100}],
    }
    sink = executions.append if executions is not None else None
    return EdgeRuntime(parse_edge_config(doc), clock or RealClock(), executions=sink)


def command(rt: EdgeRuntime, command_id: str, device: str, action: str, value: float) -> None:
    """Submit an operator's command as the cloud link would; it must be accepted."""
    now = rt.clock.time()
    verdict = rt.requests.submit(
        CommandRequest(
            command_id, device, action, value, to_rfc3339(now), to_rfc3339(now + 5), "test"
        )
    )
    assert verdict.status == "delivered", verdict


def channel(rt: EdgeRuntime, address: str) -> Any:
    sample = rt.store.get_channel(address)
    return None if sample is None else sample.value
