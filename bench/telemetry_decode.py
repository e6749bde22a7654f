"""CPU time per channel value to turn an edge's telemetry frame into store rows.

The Python work the cloud does per value before the socket and database
layers (README "Benchmarks"; issue 16): the wire decoder (pydantic,
``EDGE_TO_CLOUD``) followed by ``rows_from_frame`` and the latest-value update
the socket handler did per sample, against :class:`TelemetryDecoder`, which
does all three in one pass, and that decoder as the cloud runs it (keeping
the latest values only of the channels that bound commands). Measured in CPU
time (``time.process_time``), so other jobs on the machine change the figures
little. Frames as the benchmark's
simulated edges and the real edge send them: one sample time per frame.

Prints one JSON object.

    .venv/bin/python bench/telemetry_decode.py [--channels 50] [--frames 4000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ems.cloud.commands.checks import bounding_channel_names
from ems.cloud.telemetry import IngestFrame, TelemetryDecoder, rows_from_frame
from ems.profiles import builtin_profiles
from ems.protocol import EDGE_TO_CLOUD, EdgeTelemetry

NAMES = ("battery_1", "pv_1", "grid", "load")


def frame_text(channels: int, seq: int) -> str:
    at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = ",".join(
        f'"{NAMES[k % 4]}/Extra{k}":{{"v":{1000.0 + k * 10.5},"t":"{at}"}}' for k in range(channels)
    )
    return f'{{"type":"telemetry","seq":{seq},"ts":"{at}","channels":{{{body}}}}}'


def cpu_us_per_value(work: Callable[[str], object], texts: list[str], channels: int) -> float:
    started = time.process_time()
    for text in texts:
        work(text)
    return 1e6 * (time.process_time() - started) / (len(texts) * channels)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=50, help="values per frame (50)")
    parser.add_argument("--frames", type=int, default=4000, help="frames decoded per run (4000)")
    args = parser.parse_args()
    if not 1 <= args.channels <= 20_000 or not 1 <= args.frames <= 1_000_000:
        parser.error("--channels or --frames out of range")
    texts = [frame_text(args.channels, seq) for seq in range(args.frames)]
    latest: dict[str, tuple[object, float]] = {}

    def wire(text: str) -> object:
        frame = EDGE_TO_CLOUD.decode(text)
        assert isinstance(frame, EdgeTelemetry)
        for address, sample in frame.channels.items():  # what ws_edge did per sample
            t = sample.t.timestamp()
            known = latest.get(address)
            if known is None or t >= known[1]:
                latest[address] = (sample.v, t)
        return rows_from_frame("bench-1", frame.channels)

    decoder = TelemetryDecoder()

    def quick(text: str) -> object:
        frame = decoder.decode("bench-1", text, latest)
        assert isinstance(frame, IngestFrame)
        return frame.rows

    cloud_decoder = TelemetryDecoder(latest_channels=bounding_channel_names(builtin_profiles()))
    cloud_latest: dict[str, tuple[object, float]] = {}

    def cloud(text: str) -> object:
        frame = cloud_decoder.decode("bench-1", text, cloud_latest)
        assert isinstance(frame, IngestFrame)
        return frame.rows

    figures: dict[str, list[float]] = {"wire": [], "quick": [], "cloud": []}
    for _ in range(3):  # interleaved runs, best of three: the least disturbed
        figures["wire"].append(cpu_us_per_value(wire, texts, args.channels))
        figures["quick"].append(cpu_us_per_value(quick, texts, args.channels))
        figures["cloud"].append(cpu_us_per_value(cloud, texts, args.channels))
    wire_us = min(figures["wire"])
    quick_us = min(figures["quick"])
    cloud_us = min(figures["cloud"])
    result = {
        "channels": args.channels,
        "frames": args.frames,
        "wire_us_per_value": round(wire_us, 3),
        "quick_us_per_value": round(quick_us, 3),
        "speedup": round(wire_us / quick_us, 2),
        "cloud_us_per_value": round(cloud_us, 3),  # latest values of bounding channels only
        # The share of one core this part costs at the budget's 100,000 values/s.
        "quick_core_share_at_100k_per_s": round(quick_us * 0.1, 3),
        "quick_fast_path_frames": decoder.fast,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
