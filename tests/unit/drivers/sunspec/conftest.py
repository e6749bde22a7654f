"""The ``serve`` fixture: loopback SunSpec servers started and stopped by each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sunspec_server import LoopbackServer, ServeFn


@pytest.fixture
def serve() -> Iterator[ServeFn]:
    """Start servers holding ``{address: words}`` blocks; all are stopped after the test."""
    started: list[LoopbackServer] = []

    def start(blocks: dict[int, list[int]]) -> LoopbackServer:
        server = LoopbackServer(blocks).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
