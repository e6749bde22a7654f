"""uvicorn as the cloud and the demo start it: no compression, frame limits as configured."""

from fastapi import FastAPI

from ems.cloud.serve import make_server
from ems.cloud.settings import CloudSettings


def test_no_per_message_deflate_and_one_frame_limit() -> None:
    settings = CloudSettings(ui_max_frame_bytes=65_536, edge_max_frame_bytes=1_000_000)
    config = make_server(FastAPI(), settings).config
    assert config.ws_per_message_deflate is False
    # uvicorn has one limit for every socket: the larger; /ws/ui closes at its own (1009).
    assert config.ws_max_size == 1_000_000
