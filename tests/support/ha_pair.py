"""An HA edge pair as real processes: ``ems devices serve`` (SunSpec over Modbus TCP,
logging every write with its writer), ``ems ha witness`` and two ``ems edge --ha-node``
against a cloud: a :class:`~support.fake_cloud.FakeCloud`, or a real ``ems cloud``
(anything with a ``url``, and the site's API key in ``api_key``).

Each node's Modbus connections leave from its own loopback address (127.0.0.2
for ``a``, 127.0.0.3 for ``b``), so the device server's write log names the
node that wrote. Shared by the failover integration test and ``bench/failover.py``.

Node ``a``'s Raft is reached only through a :class:`~support.chaos.proxy.TcpProxy`
(:attr:`HaPair.raft_proxy`), and ``a`` never dials out itself: pysyncobj
connects from the member with the greater address to the lesser, and ``a``'s
address (127.0.0.1) sorts below ``b``'s (127.0.0.2) and the witness's
(127.0.0.3). Cutting that proxy therefore cuts ``a`` off from the quorum
while it still reaches its devices and the cloud: a network partition.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from ems.edge.config import demo_config_path
from support.chaos.proxy import TcpProxy
from support.processes import EmsProcess, free_port

__all__ = ["EDGE_ID", "NODES", "SOURCE_HOSTS", "Cloud", "HaPair", "Write", "writer_blocks"]

NODES = ("a", "b")
#: The loopback address each node's device connections leave from.
SOURCE_HOSTS = {"a": "127.0.0.2", "b": "127.0.0.3"}
EDGE_ID = "site-ha"
#: From spawn to a running edge on a loaded 2-core machine [s]; only a hang reaches it.
START_S = 90.0


@dataclass(frozen=True, slots=True)
class Write:
    t: float  # UTC epoch s, by the device server's clock
    device: str
    address: int
    node: str  # "a", "b" or the writer's address when it is neither


def _sites_dir() -> Path:
    return demo_config_path().parent


class Cloud(Protocol):
    @property
    def url(self) -> str:
        """Where the edges connect (``http://host:port``)."""
        ...


@dataclass
class HaPair:
    cloud: Cloud
    root: Path
    api_key: str = "any-key-the-fake-cloud-accepts"
    period_s: float = 1.0
    devices: EmsProcess | None = None
    witness: EmsProcess | None = None
    edges: dict[str, EmsProcess] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    write_log: Path | None = None
    raft_proxy: TcpProxy | None = None
    _raft_a: int = 0  # where node a's Raft really listens (behind raft_proxy)

    # -- start -----------------------------------------------------------
    def start_devices(self) -> dict[str, int]:
        self.write_log = self.root / "writes.jsonl"
        self.devices = EmsProcess(
            [
                "devices",
                "serve",
                "--config",
                str(_sites_dir() / "demo.yaml"),
                "--port",
                "0",
                "--write-log",
                str(self.write_log),
            ]
        )
        line = self.devices.wait_for('"serving"', START_S)
        served = json.loads(line)["serving"]
        return {d["device"]: int(d["port"]) for d in served}

    async def start_raft_proxy(self) -> None:
        self._raft_a = free_port()
        self.raft_proxy = TcpProxy([("127.0.0.1", self._raft_a)])
        await self.raft_proxy.start()

    def write_config(self, ports: dict[str, int]) -> Path:
        document: dict[str, Any] = yaml.safe_load(
            (_sites_dir() / "demo_sunspec.yaml").read_text("utf-8")
        )
        document["edge_id"] = EDGE_ID
        document["cycle"] = {"period_s": self.period_s}
        for device in document["devices"]:
            if device["id"] in ports:
                device["params"]["port"] = ports[device["id"]]
        assert self.raft_proxy is not None
        nodes: list[dict[str, Any]] = []
        for name in NODES:
            self.health[name] = f"127.0.0.1:{free_port()}"
            nodes.append(
                {
                    "name": name,
                    "health": self.health[name],
                    "device_source_host": SOURCE_HOSTS[name],
                }
            )
        nodes[0]["address"] = f"127.0.0.1:{self.raft_proxy.port}"
        nodes[0]["bind"] = f"127.0.0.1:{self._raft_a}"
        nodes[1]["address"] = f"127.0.0.2:{free_port()}"
        document["ha"] = {"nodes": nodes, "witness": f"127.0.0.3:{free_port()}"}
        document["logging"] = {"enabled": False}
        self.config_path = self.root / "edge-ha.yaml"
        self.config_path.write_text(yaml.safe_dump(document), "utf-8")
        return self.config_path

    def start_witness(self) -> None:
        assert self.config_path is not None
        self.witness = EmsProcess(
            [
                "ha",
                "witness",
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.root / "witness"),
            ]
        )
        self.witness.wait_for("witness listening", START_S)

    def start_edge(self, name: str) -> EmsProcess:
        assert self.config_path is not None
        key = self.root / "edge.key"
        key.write_text(self.api_key + "\n")
        edge = EmsProcess(
            [
                "edge",
                "--config",
                str(self.config_path),
                "--cloud",
                self.cloud.url,
                "--api-key-file",
                str(key),
                "--data-dir",
                str(self.root / name),
                "--ha-node",
                name,
                "--no-table",
            ]
        )
        self.edges[name] = edge
        return edge

    async def start(self) -> None:
        await self.start_raft_proxy()
        self.write_config(self.start_devices())
        self.start_witness()
        for name in NODES:
            self.start_edge(name)
        await self.wait_leader(START_S)

    # -- look ------------------------------------------------------------
    async def status(self, name: str) -> dict[str, Any] | None:
        """The node's ``GET /ha``; None if it does not answer (dead, stopped, starting)."""
        try:
            async with httpx.AsyncClient(timeout=0.5) as client:
                response = await client.get(f"http://{self.health[name]}/ha")
            result: dict[str, Any] = response.json()
            return result
        except (httpx.HTTPError, ValueError):
            return None

    async def wait_leader(
        self, timeout_s: float, among: tuple[str, ...] = NODES, poll_s: float = 0.05
    ) -> str:
        """The first node of ``among`` that reports itself leader."""
        async with asyncio.timeout(timeout_s):
            while True:
                for name in among:
                    status = await self.status(name)
                    if status is not None and status.get("role") == "leader":
                        return name
                await asyncio.sleep(poll_s)  # polling a process over HTTP: no event to wait on

    def writes(self) -> list[Write]:
        """Every device write so far, oldest first, with the node that made it."""
        assert self.write_log is not None
        by_host = {host: name for name, host in SOURCE_HOSTS.items()}
        out: list[Write] = []
        if not self.write_log.exists():
            return out
        for line in self.write_log.read_text("utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line being written
            host = str(record["writer"]).rsplit(":", 1)[0]
            out.append(
                Write(
                    float(record["t"]),
                    str(record["device"]),
                    int(record["address"]),
                    by_host.get(host, host),
                )
            )
        return sorted(out, key=lambda w: w.t)

    def wall_s(self) -> float:
        return time.time()

    async def switchover(self) -> str:
        """``ems ha switchover`` (a real process); returns its output."""
        assert self.config_path is not None
        process = EmsProcess(["ha", "switchover", "--config", str(self.config_path)])
        code = await asyncio.to_thread(process.proc.wait, START_S)
        process.stop()  # joins the output pump
        output = process.output
        if code != 0:
            raise AssertionError(f"ems ha switchover exited {code}: {output}")
        return output

    async def stop(self) -> None:
        for edge in self.edges.values():
            edge.stop()
        for process in (self.witness, self.devices):
            if process is not None:
                process.stop()
        if self.raft_proxy is not None:
            await self.raft_proxy.close()


def writer_blocks(writes: list[Write]) -> list[tuple[str, float, float]]:
    """Runs of consecutive writes by the same node: (node, first t, last t)."""
    blocks: list[tuple[str, float, float]] = []
    for w in writes:
        if blocks and blocks[-1][0] == w.node:
            blocks[-1] = (w.node, blocks[-1][1], w.t)
        else:
            blocks.append((w.node, w.t, w.t))
    return blocks
