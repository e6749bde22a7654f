"""``ems edge --ha-node NAME``: one edge box of an HA pair, until SIGINT/SIGTERM.

Both boxes run the whole edge: drivers poll (read only) and the cycle keeps
the DAL warm. Only the node holding the control lease runs controllers,
writes to devices (the gate is asked again before every write) and holds the
cloud socket under the site's one edge id; the other follows. On taking over
a node adopts the pair's config, the replicated controller state and the
executed-commands record before its gate opens, then connects to the cloud;
configs the cloud pushes go through the pair (:mod:`~ems.edge.ha.configs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from pathlib import Path

import httpx

from ems.clock import RealClock
from ems.dal import Category
from ems.edge.config import EdgeConfig
from ems.edge.configsync import APPLIED_CONFIG_FILE, AppliedConfigFile, ConfigApplier
from ems.edge.connected import open_command_record, open_execution_log
from ems.edge.ha.agent import LEADER, HaAgent
from ems.edge.ha.configs import PairConfigs
from ems.edge.ha.health import serve_health
from ems.edge.ha.lease import LocalLease
from ems.edge.ha.raft import HaSync
from ems.edge.ha.replica import RaftReplica
from ems.edge.ha.table import LeaseTable
from ems.edge.ha.takeover import (
    Admission,
    StatePublisher,
    adopt_command_record,
    adopt_controller_state,
    replicated_executions,
)
from ems.edge.lifetime import run_until_signalled
from ems.edge.link import CloudLink, load_profiles_for_start
from ems.edge.metrics import EdgeMetrics, serve_metrics
from ems.edge.runtime import EdgeRuntime
from ems.edge.sdnotify import notify, watchdog_interval_s, watchdog_loop
from ems.errors import ConfigError

__all__ = ["HA_CHANNELS", "run_ha", "serve_ha"]

log = logging.getLogger(__name__)

HA = "_ha"
#: name -> unit of the node's HA channels (in its telemetry while it leads).
HA_CHANNELS: dict[str, str | None] = {
    "Leader": None,  # bool: this node is in control
    "Token": None,  # fencing token of its lease
    "Term": None,  # Raft term
    "LagEntries": None,  # Raft entries committed but not yet applied here
    "Takeovers": None,  # times this node took control
    "Node": None,  # this node's name (the dashboard shows which box leads)
    "Peer": None,  # the other box's name
    "PeerConnected": None,  # bool: this node reaches the other box over Raft
}


async def serve_ha(
    config: EdgeConfig,
    node_name: str,
    url: str,
    api_key: str,
    state_dir: Path,
    stop: asyncio.Event,
    config_version: int | None = None,
) -> EdgeRuntime:
    """Run this node of the pair until ``stop`` is set; returns the runtime.

    ``config_version``: the cloud's version of ``config`` (None: a local file)."""
    ha = config.ha
    if ha is None:
        raise ConfigError("--ha-node needs an ha: block (nodes and witness) in the edge YAML")
    try:
        me = ha.node(node_name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    others = [n.address for n in ha.nodes if n.name != node_name] + [ha.witness]
    async with httpx.AsyncClient() as client:
        profiles, source = await load_profiles_for_start(config, state_dir, client, url=url)
    log.info("edge %s (HA node %s): device profiles from %s", config.edge_id, node_name, source)
    clock = RealClock()
    lease = LocalLease(clock.monotonic, ha.lease_s, ha.write_guard_s)
    sync = HaSync(me.address, others, ha, bind=me.bind, state_dir=state_dir)
    peer_node = next(n for n in ha.nodes if n.name != node_name)
    peer = peer_node.name
    replica = RaftReplica(sync, timeout_s=2 * ha.renew_s)
    executions = open_execution_log(config, state_dir, clock)
    try:
        runtime = EdgeRuntime(
            config,
            clock,
            profiles=profiles,
            isolate_models=True,
            executions=replicated_executions(executions, replica, lambda: lease.token),
            state_dir=state_dir,
            gate=lease,
            device_source_host=me.device_source_host,
        )
        await runtime.prepare()
        runtime.cycle.after_cycle.append(StatePublisher(runtime, replica, lambda: lease.token))
        runtime.requests.admit = Admission(replica, lease, clock.time)
        applier = ConfigApplier(
            runtime, AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE), config_version
        )
        configs = PairConfigs(node_name, peer, applier, replica, lease, clock)
        for name, unit in HA_CHANNELS.items():
            runtime.store.declare(f"{HA}/{name}", Category.INPUT, unit)
        link_run: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

        async def on_gain(table: LeaseTable, token: int) -> None:
            # The pair's config first: the controllers are then built from it.
            await configs.follow(retry=True)
            adopt_controller_state(runtime, table)
            seen = open_command_record(state_dir, executions.path, clock)
            # What the other node took or executed is never executed here when redelivered.
            adopt_command_record(seen, table)
            try:
                link = CloudLink(
                    runtime,
                    url,
                    api_key,
                    state_dir,
                    refresh_profiles=False,
                    seen=seen,
                    config=configs,
                )
            except BaseException:
                seen.close()
                raise
            link_stop = asyncio.Event()
            link_run.append((link_stop, asyncio.create_task(link.run(link_stop))))

        async def on_loss() -> None:
            while link_run:
                link_stop, task = link_run.pop()
                link_stop.set()
                await task

        agent = HaAgent(
            node_name,
            replica,
            clock,
            lease,
            lease_s=ha.lease_s,
            renew_s=ha.renew_s,
            on_gain=on_gain,
            on_loss=on_loss,
            on_control=runtime.cycle.run_now,
        )

        async def publish_status() -> None:
            next_s = clock.monotonic()
            while not stop.is_set():
                status = replica.status()
                runtime.store.set_channels(
                    {
                        f"{HA}/Leader": agent.status.role == LEADER,
                        f"{HA}/Token": agent.status.token,
                        f"{HA}/Term": status["term"],
                        f"{HA}/LagEntries": status["lag_entries"],
                        f"{HA}/Takeovers": agent.status.takeovers,
                        f"{HA}/Node": node_name,
                        f"{HA}/Peer": peer,
                        f"{HA}/PeerConnected": replica.connected(peer_node.address),
                    },
                    ts=clock.time(),
                )
                next_s = max(next_s + ha.renew_s, clock.monotonic())
                await clock.sleep_until(next_s)

        async def follow_configs() -> None:
            """Apply the config the pair committed when it is newer than this box's (a
            push the leader took, or one this box missed while down)."""
            next_s = clock.monotonic()
            while not stop.is_set():
                await configs.follow()
                next_s = max(next_s + ha.renew_s, clock.monotonic())
                await clock.sleep_until(next_s)

        with contextlib.ExitStack() as stack:
            if config.metrics.enabled:
                # The cycle's and devices' metrics; the link's come and go with the lease,
                # and the HA gauges are on the health endpoint's /metrics.
                stack.enter_context(
                    serve_metrics(EdgeMetrics(runtime), config.metrics.host, config.metrics.port)
                )
            if me.health is not None:
                host, _, port = me.health.rpartition(":")
                bound = stack.enter_context(
                    serve_health(agent, peer, asyncio.get_running_loop(), host, int(port))
                )
                log.info("HA node %s health on http://%s:%d/ha", node_name, host, bound)
            tasks = [runtime.run(stop), agent.run(stop), publish_status(), follow_configs()]
            watchdog_s = watchdog_interval_s()
            if watchdog_s is not None:  # a follower's cycles count too: it is alive
                tasks.append(watchdog_loop(lambda: runtime.cycle.stats.cycles, watchdog_s, stop))
            notify("READY=1")
            await asyncio.gather(*tasks)
            notify("STOPPING=1")
    finally:
        sync.destroy()
        executions.close()
    return runtime


def run_ha(
    config: EdgeConfig,
    node_name: str,
    url: str,
    api_key: str,
    state_dir: Path,
    config_version: int | None = None,
) -> int:
    def serve(stop: asyncio.Event) -> Awaitable[EdgeRuntime]:
        return serve_ha(config, node_name, url, api_key, state_dir, stop, config_version)

    return run_until_signalled(config, state_dir, serve, f"as HA node {node_name}")
