"""State shared by every cloud process, in Redis (or the embedded store).

``shared_redis(url)`` makes the client: a real Redis server for a URL, the
in-process embedded store (fakeredis, Lua included) without one. On it:
``InFlight``, the watchdog set of commands sent and awaiting their terminal
ack, and ``OfflineQueue``, the per-edge FIFO queues with per-command expiry.
Every removal is one atomic step (a Lua script), so the watchdog and the
expiry worker can run on every process at once: whoever removes a command
owns its terminal status (DESIGN sections 4 and 7).
"""

from ems.cloud.shared.connect import embedded_server, reset_embedded_server, shared_redis
from ems.cloud.shared.inflight import InFlight, InFlightEntry
from ems.cloud.shared.inventory import Inventories
from ems.cloud.shared.queue import (
    QUEUE_FULL,
    TIMEOUT_IN_QUEUE,
    ExpiredInQueue,
    OfflineQueue,
    PushResult,
    QueuedCommand,
    Taken,
    ToDeliver,
)

__all__ = [
    "QUEUE_FULL",
    "TIMEOUT_IN_QUEUE",
    "ExpiredInQueue",
    "InFlight",
    "InFlightEntry",
    "Inventories",
    "OfflineQueue",
    "PushResult",
    "QueuedCommand",
    "Taken",
    "ToDeliver",
    "embedded_server",
    "reset_embedded_server",
    "shared_redis",
]
