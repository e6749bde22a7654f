"""``ems ha …``: the witness, a node's status, and a planned switchover."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ems.errors import EmsError

__all__ = ["add_ha_parser"]


def _ha_config(path: Path | None) -> Any:
    from ems.edge.config import load_edge_config

    config = load_edge_config(path)
    if config.ha is None:
        raise EmsError(f"{path}: no ha: block (nodes and witness) in this edge YAML")
    return config.ha


def _cmd_witness(args: argparse.Namespace) -> int:
    from ems.edge.ha.witness import run_witness

    data_dir = args.data_dir or Path(os.environ.get("EMS_DATA_DIR") or "ems-data")
    return run_witness(_ha_config(args.config), data_dir / "ha-witness")


def _statuses(config: Any) -> list[dict[str, Any]]:
    import httpx

    out: list[dict[str, Any]] = []
    for node in config.nodes:
        if node.health is None:
            out.append({"node": node.name, "error": "no_health_endpoint"})
            continue
        try:
            response = httpx.get(f"http://{node.health}/ha", timeout=2.0)
            out.append(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            out.append({"node": node.name, "error": "unreachable", "detail": str(exc)})
    return out


def _cmd_status(args: argparse.Namespace) -> int:
    print(json.dumps(_statuses(_ha_config(args.config)), indent=2))
    return 0


def _cmd_switchover(args: argparse.Namespace) -> int:
    import httpx

    config = _ha_config(args.config)
    leaders = [s for s in _statuses(config) if s.get("role") == "leader"]
    if not leaders:
        raise EmsError("no node is in control right now: nothing to switch over")
    node = config.node(leaders[0]["node"])
    response = httpx.post(f"http://{node.health}/ha/switchover", timeout=15.0)
    print(response.text)
    if response.status_code != 200:
        raise EmsError(f"switchover refused by {node.name}: {response.text}")
    return 0


def add_ha_parser(sub: Any) -> None:
    ha = sub.add_parser(
        "ha",
        help="edge high availability: witness, status, switchover",
        description="Two edge boxes (ems edge --ha-node NAME) and a witness form a Raft "
        "quorum; the node holding the control lease controls the site.",
    )
    ha_sub = ha.add_subparsers(dest="ha_command", required=True, metavar="WHAT")
    witness = ha_sub.add_parser(
        "witness",
        help="run the witness (the third vote) at ha.witness",
        description="Run the witness named by ha.witness in the edge YAML until interrupted.",
    )
    witness.add_argument("--config", type=Path, required=True, help="the pair's edge YAML")
    witness.add_argument(
        "--data-dir",
        type=Path,
        help="keep the Raft log and table in DATA_DIR/ha-witness "
        "(default: $EMS_DATA_DIR, else ./ems-data)",
    )
    witness.set_defaults(func=_cmd_witness)
    status = ha_sub.add_parser(
        "status",
        help="print every node's role, term, fencing token and lag as JSON",
        description="Ask each node's health endpoint (ha.nodes[].health) for its HA status.",
    )
    status.add_argument("--config", type=Path, required=True, help="the pair's edge YAML")
    status.set_defaults(func=_cmd_status)
    switchover = ha_sub.add_parser(
        "switchover",
        help="hand control from the leader to the other node (planned maintenance)",
        description="The node in control stops controlling and hands its lease to the "
        "other node, which takes over at its next try (within one renew period).",
    )
    switchover.add_argument("--config", type=Path, required=True, help="the pair's edge YAML")
    switchover.set_defaults(func=_cmd_switchover)
