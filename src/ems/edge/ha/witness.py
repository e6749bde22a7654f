"""``ems ha witness --config FILE``: the third vote of an edge pair's Raft group.

It runs no devices and no controllers; it votes, keeps a copy of the table
and so lets either edge alone (with it) form a quorum. Small enough for any
box on the site's network (a router, a NAS, a third Pi).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from ems.edge.ha.config import HaConfig
from ems.edge.ha.raft import HaSync

__all__ = ["run_witness"]

log = logging.getLogger(__name__)


def run_witness(config: HaConfig, state_dir: Path) -> int:
    """Vote until SIGINT/SIGTERM; the Raft log and the table are kept in ``state_dir``."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    sync = HaSync(config.witness, [n.address for n in config.nodes], config, state_dir=state_dir)
    log.info(
        "HA witness on %s for nodes %s, state in %s",
        config.witness,
        [n.name for n in config.nodes],
        state_dir,
    )
    print(f"witness listening on {config.witness}", flush=True)
    try:
        stop.wait()
    finally:
        sync.destroy()
    return 0
