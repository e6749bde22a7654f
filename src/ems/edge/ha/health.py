"""``GET /ha`` (JSON), ``GET /metrics`` (Prometheus) and ``POST /ha/switchover`` of a node.

Served from a thread; what it reports is read from the agent and the replica,
and a switchover is run on the edge's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from ems.edge.ha.agent import LEADER, HaAgent
from ems.protocol import reasons

__all__ = ["ha_status", "serve_health"]

log = logging.getLogger(__name__)


def ha_status(agent: HaAgent) -> dict[str, Any]:
    replica = agent.replica.status()
    return {
        "node": agent.node,
        "role": agent.status.role,
        "holder": agent.status.holder,
        "token": agent.status.token,
        "term": replica["term"],
        "lag_entries": replica["lag_entries"],
        "has_quorum": replica["has_quorum"],
        "takeovers": agent.status.takeovers,
    }


class _Metrics:
    def __init__(self, agent: HaAgent) -> None:
        self.agent = agent
        self.registry = CollectorRegistry()
        self.leader = Gauge(
            "ems_edge_ha_leader", "1 in control, 0 follower", registry=self.registry
        )
        self.term = Gauge("ems_edge_ha_term", "Raft term", registry=self.registry)
        self.token = Gauge("ems_edge_ha_token", "Fencing token last held", registry=self.registry)
        self.lag = Gauge(
            "ems_edge_ha_lag_entries",
            "Raft entries committed but not yet applied here",
            registry=self.registry,
        )
        self.takeovers = Gauge(
            "ems_edge_ha_takeovers", "Times this node took control", registry=self.registry
        )

    def render(self) -> bytes:
        status = ha_status(self.agent)
        self.leader.set(1.0 if status["role"] == LEADER else 0.0)
        self.term.set(status["term"])
        self.token.set(status["token"])
        self.lag.set(status["lag_entries"])
        self.takeovers.set(status["takeovers"])
        return generate_latest(self.registry)


@contextlib.contextmanager
def serve_health(
    agent: HaAgent, peer: str, loop: asyncio.AbstractEventLoop, host: str, port: int
) -> Iterator[int]:
    """Serve the node's HA endpoints on ``host:port`` (0: any free port); yields the port.

    ``peer``: the other edge node, which a switchover hands control to."""
    metrics = _Metrics(agent)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/ha":
                self._send(200, json.dumps(ha_status(agent)).encode(), "application/json")
            elif self.path == "/metrics":
                self._send(200, metrics.render(), "text/plain; version=0.0.4")
            else:
                self._send(404, b'{"error":"not_found"}', "application/json")

        def do_POST(self) -> None:
            if self.path != "/ha/switchover":
                self._send(404, b'{"error":"not_found"}', "application/json")
                return
            future = asyncio.run_coroutine_threadsafe(agent.hand_over(peer), loop)
            try:
                handed = future.result(timeout=10.0)
            except Exception as exc:  # a timeout or the loop closing: say so, keep serving
                self._send(503, json.dumps({"error": "switchover_failed", "detail": str(exc)})
                           .encode(), "application/json")  # fmt: skip
                return
            if not handed:
                body = {"error": reasons.NOT_LEADER, "detail": f"{agent.node} is not in control"}
                self._send(409, json.dumps(body).encode(), "application/json")
                return
            body = {"handed_over": agent.node, "to": peer}
            self._send(200, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("ha health: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="ha-health", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)
