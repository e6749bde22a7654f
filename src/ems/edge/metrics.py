"""Prometheus ``/metrics`` of one edge: its cycle, its telemetry buffer, its link, its commands.

One :class:`EdgeMetrics` per runtime, with its own ``CollectorRegistry`` (no
global state). Counters and gauges are read from the runtime's and the
link's own counters when scraped, so they cost the cycle nothing; only the
two histograms (cycle duration and start jitter) are fed every cycle, from a
watch on the cycle's ``_cycle/*`` channels. :func:`serve_metrics` serves
them over HTTP from a daemon thread, on loopback unless configured otherwise::

    metrics = EdgeMetrics(runtime, link)
    with serve_metrics(metrics, "127.0.0.1", 9108) as port: ...
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from ems.dal import Sample
from ems.edge.runtime import EdgeRuntime

if TYPE_CHECKING:
    from ems.edge.link import CloudLink

__all__ = ["EdgeMetrics", "serve_metrics"]

log = logging.getLogger(__name__)

#: Cycle duration buckets [s]: a demo cycle takes well under a millisecond.
DURATION_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
#: Start jitter buckets [s] (DESIGN section 11: p99 <= 2 ms).
JITTER_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


class EdgeMetrics:
    """The metrics of ``runtime`` (and ``link``, when connected to a cloud)."""

    def __init__(self, runtime: EdgeRuntime, link: CloudLink | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._duration = Histogram(
            "ems_edge_cycle_duration_seconds",
            "Control cycle duration, start to outputs applied",
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self._jitter = Histogram(
            "ems_edge_cycle_start_jitter_seconds",
            "Cycle start lateness against its absolute deadline",
            buckets=JITTER_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_Collector(runtime, link))
        store = runtime.store
        # Called under the store lock in the cycle: one observe, nothing more.
        self._unwatch = [
            store.watch("_cycle/DurationMs", lambda _a, s: _observe_ms(self._duration, s)),
            store.watch("_cycle/JitterMs", lambda _a, s: _observe_ms(self._jitter, s)),
        ]

    def close(self) -> None:
        for undo in self._unwatch:
            undo()
        self._unwatch = []


def _observe_ms(histogram: Histogram, sample: Sample) -> None:
    if isinstance(sample.value, int | float) and not isinstance(sample.value, bool):
        histogram.observe(float(sample.value) / 1000.0)


class _Collector(Collector):
    """Reads the runtime's and the link's counters at scrape time."""

    def __init__(self, runtime: EdgeRuntime, link: CloudLink | None) -> None:
        self._runtime = runtime
        self._link = link

    def collect(self) -> Iterable[Metric]:
        stats = self._runtime.cycle.stats
        yield _counter("ems_edge_cycles", "Control cycles run", stats.cycles)
        yield _counter(
            "ems_edge_cycle_overruns", "Cycles that ran past the next deadline", stats.overruns
        )
        yield _counter(
            "ems_edge_cycle_skipped", "Deadlines skipped because of overruns", stats.skipped
        )
        yield _counter(
            "ems_edge_controller_errors", "Controller runs that raised", stats.controller_errors
        )
        yield from _driver_metrics(self._runtime)
        link = self._link
        if link is None:
            return
        yield _gauge(
            "ems_edge_link_connected", "1 while authenticated with the cloud", link.connected
        )
        yield _counter("ems_edge_link_connections", "Sessions that got auth_ok", link.connections)
        yield _counter(
            "ems_edge_link_reconnects", "Connection attempts after the first", link.reconnects
        )
        if link.last_clock_offset_s is not None:
            yield _gauge(
                "ems_edge_clock_offset_seconds",
                "Cloud time minus edge time at the last auth",
                link.last_clock_offset_s,
            )
        up = link.uplink
        yield _gauge("ems_edge_telemetry_buffer_frames", "Telemetry frames not yet acked", up.depth)
        yield _gauge(
            "ems_edge_telemetry_buffer_bytes",
            "Compressed telemetry bytes in the buffer file",
            up.buffer_bytes,
        )
        yield _gauge(
            "ems_edge_telemetry_buffer_oldest_age_seconds",
            "Age of the oldest frame not yet acked",
            up.oldest_age_s(),
        )
        yield _gauge(
            "ems_edge_telemetry_buffer_durable",
            "1 while the buffer is on disk, 0 when it fell back to memory",
            up.durable,
        )
        dropped = CounterMetricFamily(
            "ems_edge_telemetry_frames_dropped",
            "Frames dropped unsent, by reason (size, age bound; lost with a damaged file)",
            labels=["reason"],
        )
        dropped.add_metric(["size"], up.dropped_size)
        dropped.add_metric(["age"], up.dropped_age)
        dropped.add_metric(["lost"], up.dropped_lost)
        yield dropped
        sent = CounterMetricFamily(
            "ems_edge_telemetry_frames_sent", "Frames sent, live or backfilled", labels=["kind"]
        )
        sent.add_metric(["live"], up.frames_sent_live)
        sent.add_metric(["backfill"], up.frames_sent_backfill)
        yield sent
        yield _counter("ems_edge_telemetry_frames_acked", "Frames the cloud acked", up.frames_acked)
        yield _counter(
            "ems_edge_telemetry_frames_resent",
            "Frames sent again after the ack timeout",
            up.frames_resent,
        )
        yield _gauge(
            "ems_edge_telemetry_inflight_frames", "Frames sent, not yet acked", up.inflight
        )
        commands = CounterMetricFamily(
            "ems_edge_commands",
            "Command statuses this edge reported, by status and reason",
            labels=["status", "reason"],
        )
        for (status, reason), count in sorted(link.outbox.counts.items()):
            commands.add_metric([status, reason], count)
        yield commands
        yield _gauge("ems_edge_acks_pending", "Acks waiting for the cloud", link.acks_pending)


def _driver_metrics(runtime: EdgeRuntime) -> Iterable[Metric]:
    """Per real device: polls that got no answer, refused reads, failed writes, its state."""
    runners = runtime.drivers.runners
    if not runners:
        return
    failed = GaugeMetricFamily(
        "ems_edge_device_communication_failed",
        "1 while the device does not answer",
        labels=["device"],
    )
    polls = CounterMetricFamily(
        "ems_edge_device_poll_failures", "Polls that got no answer", labels=["device"]
    )
    reads = CounterMetricFamily(
        "ems_edge_device_read_errors", "Registers the device refused", labels=["device"]
    )
    writes = CounterMetricFamily(
        "ems_edge_device_write_failures", "Setpoint writes that failed", labels=["device"]
    )
    for device_id, runner in sorted(runners.items()):
        failed.add_metric([device_id], float(bool(runner.failed)))
        polls.add_metric([device_id], runner.poll_failures)
        reads.add_metric([device_id], runner.read_errors)
        writes.add_metric([device_id], runner.write_failures)
    yield from (failed, polls, reads, writes)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


@contextlib.contextmanager
def serve_metrics(metrics: EdgeMetrics, host: str, port: int) -> Iterator[int]:
    """Serve ``/metrics`` on ``host:port`` (0: any free port) for the body; yields the port."""
    server, thread = start_http_server(port, host, registry=metrics.registry)
    bound: int = server.server_port
    log.info("edge metrics on http://%s:%d/metrics", host, bound)
    try:
        yield bound
    finally:
        server.shutdown()
        server.server_close()
        _join(thread)
        metrics.close()


def _join(thread: threading.Thread) -> None:
    thread.join(timeout=5.0)
