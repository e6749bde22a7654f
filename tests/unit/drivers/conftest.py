"""Fixtures of the driver tests: servers started by a test are stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from modbus_device import ServerThread


@pytest.fixture
def modbus_server() -> Iterator[list[ServerThread]]:
    """Servers a test starts are appended here and stopped after it."""
    started: list[ServerThread] = []
    yield started
    for server in started:
        server.stop()
