"""Prometheus metrics: what the farm does (counters and histograms) and what it owes (DB gauges).

Two kinds of figures, kept apart on purpose:

* **Event metrics** (requests, batches, audio rendered, retries, webhook deliveries) are counted
  where they happen, in whichever process does the work.  They live in the default registry; under
  gunicorn or a prefork pool set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory per deployment)
  and every process's figures are merged at scrape time (prometheus_client's multiprocess mode).
* **State metrics** (jobs by status, queue depth per engine, live workers) are read from the
  database at scrape time by ``DatabaseCollector``: the database is the source of truth, so a
  restarted API reports the same backlog a crashed one would have.  Queued *audio-seconds* per
  engine (the sum of the planned chunks' expected durations) is the autoscaling signal: a chunk
  count treats a 2 s line and a 20 s paragraph alike, expected audio-seconds do not.

This module imports no Flask, Celery or torch (core/), so the API and the workers share it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

log = logging.getLogger(__name__)

# Buckets: a micro-batch holds 1-64 items; one batch takes 10 ms (espeak) to minutes (Dia on CPU).
_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

API_REQUESTS = Counter("voxfarm_api_requests_total", "API requests answered", ["route", "method", "status"])
API_LATENCY = Histogram("voxfarm_api_request_seconds", "API request latency", ["route", "method"],
                        buckets=_SECONDS)
BATCH_SIZE = Histogram("voxfarm_batch_size", "Items per generate_batch call", ["engine"], buckets=_BATCH_SIZES)
BATCH_SECONDS = Histogram("voxfarm_batch_seconds", "Wall time of one generate_batch call", ["engine"],
                          buckets=_SECONDS)
AUDIO_SECONDS = Counter("voxfarm_audio_seconds_rendered_total", "Audio rendered by engines (cache hits excluded)",
                        ["engine", "worker"])
ENGINE_SECONDS = Counter("voxfarm_engine_seconds_total", "Engine wall time spent rendering",
                         ["engine", "worker"])
# RTF = engine seconds / audio seconds for one batch (< 1 is faster than real time)
RTF = Histogram("voxfarm_real_time_factor", "Engine seconds per audio second, per batch", ["engine", "worker"],
                buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10))
RETRIES = Counter("voxfarm_retries_total", "Work retried later", ["kind", "reason"])
LEASE_EXPIRIES = Counter("voxfarm_lease_expiries_total", "Expired chunk leases the reconciler re-sent")
RESENDS = Counter("voxfarm_reconciler_resends_total", "Messages the reconciler re-sent", ["kind"])
WEBHOOK_DELIVERIES = Counter("voxfarm_webhook_deliveries_total", "Webhook delivery attempts", ["outcome"])
WEBHOOK_LATENCY = Histogram("voxfarm_webhook_delivery_seconds", "Webhook attempt latency", buckets=_SECONDS)
# the one tenant-labelled series: refusals are rare and tenants few, and "who hits which limit" is the question
LIMIT_REFUSALS = Counter("voxfarm_limit_refusals_total", "Requests refused by a tenant limit (429, or 413 when "
                         "a request alone exceeds an audio limit)", ["tenant", "limit"])


def record_batch(engine: str, worker: str, size: int, seconds: float, audio_s: float) -> None:
    """One engine call: its size, wall time, and the audio it produced."""
    BATCH_SIZE.labels(engine).observe(size)
    BATCH_SECONDS.labels(engine).observe(seconds)
    ENGINE_SECONDS.labels(engine, worker).inc(seconds)
    if audio_s > 0:
        AUDIO_SECONDS.labels(engine, worker).inc(audio_s)
        RTF.labels(engine, worker).observe(seconds / audio_s)


def webhook_outcome(status: int | None, seconds: float) -> None:
    if status is None:
        outcome = "error"
    elif 200 <= status < 300:
        outcome = "delivered"
    elif status == 410:
        outcome = "gone"
    else:
        outcome = f"{status // 100}xx"
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_LATENCY.observe(seconds)


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time (``read`` returns a ``FarmState``)."""

    def __init__(self, read: Callable[[], object]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            state = self._read()
        except Exception as exc:  # noqa: BLE001 - a scrape during a DB outage still answers
            log.warning("metrics: database unavailable: %s", exc)
            up = GaugeMetricFamily("voxfarm_database_up", "Whether the scrape could read the database")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("voxfarm_database_up", "Whether the scrape could read the database")
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("voxfarm_jobs", "Jobs by status", labels=["status"])
        for status, n in sorted(state.jobs.items()):
            jobs.add_metric([status], n)
        yield jobs
        chunks = GaugeMetricFamily("voxfarm_queue_chunks", "Chunks of live jobs not yet rendered",
                                   labels=["engine", "state"])
        audio = GaugeMetricFamily("voxfarm_queue_audio_seconds",
                                  "Expected audio-seconds of chunks not yet rendered (the scaling signal)",
                                  labels=["engine", "state"])
        for (engine, state_name), (n, seconds) in sorted(state.queue.items()):
            chunks.add_metric([engine, state_name], n)
            audio.add_metric([engine, state_name], round(seconds, 3))
        yield chunks
        yield audio
        workers = GaugeMetricFamily("voxfarm_live_workers", "Workers with a fresh heartbeat", labels=["engine"])
        for engine, n in sorted(state.workers.items()):
            workers.add_metric([engine], n)
        yield workers


def registry(state: Callable[[], object] | None = None) -> CollectorRegistry:
    """The registry a process exposes: its own event metrics (or every process's, in multiprocess
    mode), plus the database gauges when ``state`` is given (the API only: one scrape target
    owns them, so a dashboard never sums the same backlog twice)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        MultiProcessCollector(reg)
    else:
        reg = CollectorRegistry()
        reg.register(_Forward(REGISTRY))
    if state is not None:
        reg.register(DatabaseCollector(state))
    return reg


class _Forward(Collector):
    """Re-exports the default registry inside a per-app registry (so test apps stay separate)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self):
        return self._source.collect()


def exposition(reg: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(reg), CONTENT_TYPE_LATEST


def serve(port: int, reg: CollectorRegistry | None = None) -> None:
    """A worker's own /metrics on ``port`` (a daemon thread; 0 disables)."""
    if port:
        start_http_server(port, registry=reg or registry())
        log.info("metrics on :%d/metrics", port)
