"""With ``--workers``, one scrape shows every worker, each sample labelled by its worker."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ems.cloud.worker_metrics import WorkerMetrics


def exposition(values: float, edges: int) -> bytes:
    registry = CollectorRegistry()
    Counter("ems_telemetry_values", "values", registry=registry).inc(values)
    Gauge("ems_edges_connected", "edges", registry=registry).set(edges)
    Histogram("ems_lag_seconds", "lag", buckets=(1.0,), registry=registry).observe(0.5)
    return generate_latest(registry)


def samples(text: bytes) -> dict[tuple[str, str], float]:
    """(sample name, worker) -> value, unlabelled otherwise (buckets: the +Inf one)."""
    return {
        (s.name, s.labels["worker"]): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if set(s.labels) - {"worker"} <= {"le"} and s.labels.get("le", "+Inf") == "+Inf"
    }


def test_a_scrape_shows_this_worker_fresh_and_the_others_as_published(tmp_path: Path) -> None:
    WorkerMetrics(tmp_path, "cloud.2").publish(exposition(200, 7))
    merged = samples(WorkerMetrics(tmp_path, "cloud.1").merged(exposition(100, 3)))
    assert merged[("ems_telemetry_values_total", "cloud.1")] == 100
    assert merged[("ems_telemetry_values_total", "cloud.2")] == 200
    assert merged[("ems_edges_connected", "cloud.1")] == 3
    assert merged[("ems_edges_connected", "cloud.2")] == 7
    assert merged[("ems_lag_seconds_count", "cloud.2")] == 1
    total = sum(v for (name, _), v in merged.items() if name == "ems_telemetry_values_total")
    assert total == 300  # the whole cloud: summed over workers


def test_a_worker_that_stopped_publishing_is_left_out(tmp_path: Path) -> None:
    gone = WorkerMetrics(tmp_path, "cloud.2")
    gone.publish(exposition(200, 7))
    long_ago = gone.path.stat().st_mtime - 60
    os.utime(gone.path, (long_ago, long_ago))
    merged = samples(WorkerMetrics(tmp_path, "cloud.1").merged(exposition(100, 3)))
    assert {worker for _, worker in merged} == {"cloud.1"}


def test_an_unreadable_file_is_left_out_and_the_scrape_still_answers(tmp_path: Path) -> None:
    (tmp_path / "cloud.3.prom").write_text("this is { not prometheus\n")
    merged = samples(WorkerMetrics(tmp_path, "cloud.1").merged(exposition(100, 3)))
    assert {worker for _, worker in merged} == {"cloud.1"}


def test_no_directory_yet_means_this_worker_alone(tmp_path: Path) -> None:
    merged = samples(WorkerMetrics(tmp_path / "absent", "cloud.1").merged(exposition(1, 1)))
    assert merged[("ems_edges_connected", "cloud.1")] == 1
