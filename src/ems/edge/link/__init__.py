"""The edge's link to the cloud (DESIGN sections 4, 5 and 8).

::

    profiles, source = await load_profiles_for_start(config, cache_dir, client, url=url)
    runtime = EdgeRuntime(config, RealClock(), profiles=profiles)
    link = CloudLink(runtime, url, api_key, cache_dir)
    await asyncio.gather(runtime.run(stop), link.run(stop))

:class:`CloudLink` keeps the ``/ws/edge`` socket up (auth, inventory,
reconnect with backoff), turns commands into requests and DAL acks into ack
frames (:mod:`.dispatcher`) and sends one telemetry frame per cycle; every
frame stays in a durable buffer until the cloud acks it and is backfilled
after an outage (:mod:`.uplink`, :mod:`.buffer`). :mod:`.seen` records every command taken, on
disk, so one delivered again (even after a restart) is never executed twice.
:mod:`.recent_acks` journals the final acks of the last seconds, so a
restarted edge sends again the ones its previous process may have sent in vain.
:mod:`.profiles` fetches device profiles with a disk cache for starting while
the cloud is unreachable.
"""

from ems.edge.link.backoff import Backoff
from ems.edge.link.buffer import BufferedFrame, FrameFile
from ems.edge.link.client import AUTH_REFUSED, CloudLink
from ems.edge.link.dispatcher import AckOutbox, CommandDispatcher
from ems.edge.link.endpoints import CloudEndpoints, cloud_endpoints
from ems.edge.link.profiles import (
    ProfileSource,
    fetch_profiles,
    load_profiles_for_start,
    profile_cache_dir,
    refresh_profile_cache,
)
from ems.edge.link.recent_acks import RecentAcks
from ems.edge.link.seen import SeenCommands, SeenRecord
from ems.edge.link.uplink import LINK_CHANNELS, Outgoing, TelemetryUplink

__all__ = [
    "AUTH_REFUSED",
    "LINK_CHANNELS",
    "AckOutbox",
    "Backoff",
    "BufferedFrame",
    "CloudEndpoints",
    "CloudLink",
    "CommandDispatcher",
    "FrameFile",
    "Outgoing",
    "ProfileSource",
    "RecentAcks",
    "SeenCommands",
    "SeenRecord",
    "TelemetryUplink",
    "cloud_endpoints",
    "fetch_profiles",
    "load_profiles_for_start",
    "profile_cache_dir",
    "refresh_profile_cache",
]
