"""One ``/metrics`` scrape for the whole cloud when it runs as several workers.

With ``ems cloud --workers N`` every worker is its own process with its own
figures, and a scrape of the shared port reaches whichever worker the kernel
picks. So each worker publishes its exposition text into a directory the
workers share (``<EMS_DATA_DIR>/metrics-workers/<node id>.prom``, replaced
atomically every ``publish_every_s``), and a scrape of any worker answers with
every worker's samples, each labelled ``worker="<node id>"``: its own fresh,
the others' as last published. A file older than ``stale_after_s`` (a worker
that died or stopped) is left out. Sum over ``worker`` for whole-cloud figures:
``sum without (worker) (rate(ems_telemetry_values_total[1m]))``.

Labels rather than prometheus-client's multiprocess mode: most figures here are
read at scrape time from the live process (connected edges, backlogs, intake),
which the multiprocess mode's shared counters cannot show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["WorkerMetrics"]

log = logging.getLogger(__name__)

_SUFFIX = ".prom"
WORKER_LABEL = "worker"


class WorkerMetrics:
    """Publishes this worker's text and merges every worker's; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        worker: str,
        *,
        publish_every_s: float = 2.0,
        stale_after_s: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dir = directory
        self._worker = worker
        self._every_s = publish_every_s
        self._stale_s = stale_after_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def path(self) -> Path:
        return self._dir / f"{self._worker}{_SUFFIX}"

    def publish(self, text: bytes) -> None:
        """Replace this worker's file with ``text`` (readers never see half a file)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        partial = self._dir / f".{self._worker}{_SUFFIX}.tmp"
        partial.write_bytes(text)
        os.replace(partial, self.path)

    def merged(self, own: bytes) -> bytes:
        """Every live worker's samples, labelled by worker; ``own`` is this worker's text."""
        texts = {self._worker: own.decode()}
        now = self._clock()
        with contextlib.suppress(FileNotFoundError):
            for path in self._dir.glob(f"*{_SUFFIX}"):
                worker = path.name[: -len(_SUFFIX)]
                if worker == self._worker:
                    continue
                try:
                    if now - path.stat().st_mtime > self._stale_s:
                        continue
                    texts[worker] = path.read_text()
                except OSError:  # gone meanwhile: that worker stopped
                    continue
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Labelled(texts))
        return generate_latest(registry)

    def start(self, render: Callable[[], Awaitable[bytes]]) -> None:
        """Publish ``render()`` every ``publish_every_s`` until :meth:`stop`."""
        self._task = asyncio.create_task(self._loop(render), name="worker-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(OSError):  # a stopped worker is no longer shown
            self.path.unlink()

    async def _loop(self, render: Callable[[], Awaitable[bytes]]) -> None:
        while True:
            try:
                text = await render()
                await asyncio.to_thread(self.publish, text)
            except Exception:  # a full disk must not stop the worker; scrapes say less
                log.warning("could not publish this worker's metrics", exc_info=True)
            await asyncio.sleep(self._every_s)


class _Labelled(Collector):
    """Parsed exposition texts, each sample with its worker's label."""

    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for worker, text in sorted(self._texts.items()):
            try:
                parsed = list(text_string_to_metric_families(text))
            except ValueError:  # a torn or foreign file: that worker is left out
                log.warning("unreadable metrics of worker %s", worker)
                continue
            for family in parsed:
                merged = families.get(family.name)
                if merged is None:
                    merged = Metric(family.name, family.documentation, family.type, family.unit)
                    families[family.name] = merged
                for s in family.samples:
                    labels = {**s.labels, WORKER_LABEL: worker}
                    merged.samples.append(Sample(s.name, labels, s.value, s.timestamp, s.exemplar))
        return families.values()
