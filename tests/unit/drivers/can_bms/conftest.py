"""The fixture of the CAN BMS tests: an edge on a virtual clock and the BMS it listens to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bms_bus import BmsEdge, start_bms_edge


@pytest.fixture
def bms_edge() -> Iterator[BmsEdge]:
    edge = start_bms_edge()
    yield edge
    edge.close()
