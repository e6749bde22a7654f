"""The edge's own schema, the one seam where the cloud reads edge code.

DESIGN 16: a config is validated "with the edge's own schema" before it is
stored, so the cloud refuses exactly what an edge of this version would; the
import stays here, lazily, so the rest of the cloud keeps not importing the edge.
"""

from __future__ import annotations

from typing import Any

import yaml

from ems.errors import EmsError
from ems.protocol import config_reasons

__all__ = ["ConfigRefused", "validate_edge_yaml"]

MAX_YAML_CHARS = 256 * 1024


class ConfigRefused(Exception):
    """Why a config was not stored: a stable ``reason`` and a ``detail`` naming the field."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def validate_edge_yaml(edge_id: str, text: str) -> dict[str, Any]:
    """The decoded document of ``text`` once the edge's schema accepts it for ``edge_id``.

    Reasons: ``too_large``, ``invalid_yaml``, ``invalid_config`` (the detail names
    the field, as the edge would), ``wrong_edge``.
    """
    from ems.edge.config import parse_edge_config

    if len(text) > MAX_YAML_CHARS:
        raise ConfigRefused(
            config_reasons.TOO_LARGE, f"yaml: longer than {MAX_YAML_CHARS} characters"
        )
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigRefused(config_reasons.INVALID_YAML, f"yaml: {exc}") from None
    try:
        config = parse_edge_config(document, "config")
    except EmsError as exc:
        raise ConfigRefused(config_reasons.INVALID_CONFIG, str(exc)) from None
    if config.edge_id != edge_id:
        raise ConfigRefused(
            config_reasons.WRONG_EDGE,
            f"config: edge_id: {config.edge_id!r} is not this edge ({edge_id!r})",
        )
    assert isinstance(document, dict)  # parse_edge_config refuses anything else
    return document
