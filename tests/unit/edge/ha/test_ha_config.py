"""The ``ha:`` block: validated at start, with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from ems.edge.config import parse_edge_config
from ems.errors import ConfigError

NODES = [
    {"name": "a", "address": "127.0.0.1:7101"},
    {"name": "b", "address": "127.0.0.1:7102"},
]


def _config(ha: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [{"id": "battery_1", "profile": "battery", "simulator": "battery"}],
        "ha": ha,
    }


def test_a_valid_block_is_taken_and_names_its_nodes() -> None:
    config = parse_edge_config(_config({"nodes": NODES, "witness": "127.0.0.1:7103"}))
    assert config.ha is not None
    assert config.ha.node("b").address == "127.0.0.1:7102"
    with pytest.raises(KeyError, match=r"'c' is not in ha\.nodes"):
        config.ha.node("c")


@pytest.mark.parametrize(
    ("ha", "names"),
    [
        ({"nodes": NODES[:1], "witness": "127.0.0.1:7103"}, "ha.nodes"),
        ({"nodes": NODES, "witness": "nowhere"}, "not host:port"),
        ({"nodes": [NODES[0], NODES[0]], "witness": "127.0.0.1:7103"}, "names must differ"),
        ({"nodes": NODES, "witness": "127.0.0.1:7103", "renew_s": 2.0}, "renew_s"),
        ({"nodes": NODES, "witness": "127.0.0.1:7103", "write_guard_s": 0.9}, "write_guard_s"),
        ({"nodes": NODES, "witness": "127.0.0.1:7103", "extra": 1}, "ha.extra"),
    ],
)
def test_a_bad_block_is_refused_naming_what_is_wrong(ha: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        parse_edge_config(_config(ha))
