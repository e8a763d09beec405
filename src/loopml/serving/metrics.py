"""Prometheus metrics of one service process, plus the interval figures stored for monitoring.

Each app owns its own ``CollectorRegistry`` (two apps in one process, as in tests, never
share counters). With several workers (``loopml serve --workers N``),
``PROMETHEUS_MULTIPROC_DIR`` is set and every worker writes its figures to files there;
``/metrics``, whichever worker answers it, then sums all workers' counters and histograms
(prometheus_client's multiprocess mode), and reports each worker's CPU and memory under its
``pid`` label.

``snapshot()`` returns and resets the interval figures (requests, errors, latency percentiles,
data quality counts) that the prediction log writes to the store as ``ServiceStats`` every few
seconds, so monitoring can chart the platform over time.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import (
    Counter as PromCounter,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
_RESERVOIR = 100_000
UNEXPECTED = "(other)"


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if self.multiprocess:
            self.worker_cpu = Gauge(
                "loopml_worker_cpu_seconds", "CPU seconds of each worker process",
                registry=r, multiprocess_mode="all",
            )
            self.worker_memory = Gauge(
                "loopml_worker_resident_memory_bytes", "Resident memory of each worker process",
                registry=r, multiprocess_mode="all",
            )
        else:
            # process_cpu_seconds_total, process_resident_memory_bytes
            ProcessCollector(registry=r)
        self.requests = PromCounter(
            "loopml_requests", "HTTP requests by endpoint and status code",
            ["endpoint", "code"], registry=r,
        )
        self.errors = PromCounter(
            "loopml_errors", "HTTP error answers (status >= 400) by code", ["code"], registry=r
        )
        self.latency = Histogram(
            "loopml_request_latency_seconds", "Request latency by endpoint", ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.batch_rows = Histogram(
            "loopml_batch_rows", "Rows per model call (micro-batch size)",
            buckets=BATCH_BUCKETS, registry=r,
        )
        self.batch_requests = Histogram(
            "loopml_batch_requests", "Requests merged into one model call",
            buckets=BATCH_BUCKETS, registry=r,
        )
        self.predictions = PromCounter(
            "loopml_predictions", "Predicted rows by model version, role and status",
            ["version", "role", "status"], registry=r,
        )
        self.bytes_received = PromCounter(
            "loopml_bytes_received", "Request body bytes", registry=r
        )
        self.bytes_sent = PromCounter("loopml_bytes_sent", "Response body bytes", registry=r)
        self.shed = PromCounter(
            "loopml_shed_requests", "Requests refused with 503 to keep the latency bound",
            registry=r,
        )
        self.log_dropped = PromCounter(
            "loopml_prediction_log_dropped", "Prediction events dropped (buffer full)",
            registry=r,
        )
        self.log_pending = Gauge(
            "loopml_prediction_log_pending", "Prediction events waiting to be stored", registry=r,
            multiprocess_mode="livesum",
        )
        self.log_failures = PromCounter(
            "loopml_prediction_log_write_failures", "Failed writes to the store (retried)",
            registry=r,
        )
        self.model_version = Gauge(
            "loopml_model_version", "Version served per role", ["role"], registry=r,
            multiprocess_mode="max",
        )
        self.reloads = PromCounter(
            "loopml_model_reloads", "Hot reloads by outcome", ["outcome"], registry=r
        )
        self.invalid_rows = PromCounter(
            "loopml_invalid_rows", "Rows rejected by validation, by column", ["column"],
            registry=r,
        )
        self.columns: frozenset[str] | None = None  # the model's inputs, set by the service
        self._lock = threading.Lock()
        self._reset_interval()

    def _reset_interval(self) -> None:
        self._interval_requests = 0
        self._interval_rows = 0
        self._interval_errors: Counter[str] = Counter()
        self._latencies: list[float] = []
        self._quality: dict[str, Counter[str]] = {
            "rejected": Counter(),
            "unseen": Counter(),
            "missing": Counter(),
            "out_of_range": Counter(),
        }

    # -- recording ------------------------------------------------------------------
    def observe_request(
        self, endpoint: str, code: int, seconds: float, received: int, sent: int
    ) -> None:
        self.requests.labels(endpoint, str(code)).inc()
        self.latency.labels(endpoint).observe(seconds)
        self.bytes_received.inc(received)
        self.bytes_sent.inc(sent)
        if code >= 400:
            self.errors.labels(str(code)).inc()
        with self._lock:
            self._interval_requests += 1
            if code >= 400:
                self._interval_errors[str(code)] += 1
            if len(self._latencies) < _RESERVOIR:
                self._latencies.append(seconds * 1000)

    def observe_batch(self, rows: int, jobs: int) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(jobs)
        with self._lock:
            self._interval_rows += rows

    def count_predictions(self, version: int, role: str, statuses: Counter[str]) -> None:
        for status, n in statuses.items():
            self.predictions.labels(str(version), role, status).inc(n)

    def count_quality(self, issues: list[dict[str, Any]], kind: str) -> None:
        """Count validation findings per column (``kind``: "rejected" or "warning")."""
        with self._lock:
            for issue in issues:
                column = str(issue.get("field") or issue.get("column"))
                if self.columns is not None and column not in self.columns:
                    column = UNEXPECTED  # bounded label values, whatever clients send
                found = _quality_kind(str(issue.get("problem", "")))
                if kind == "rejected":
                    self.invalid_rows.labels(column).inc()
                    self._quality["rejected"][column] += 1
                if found is not None:
                    self._quality[found][column] += 1

    # -- reading --------------------------------------------------------------------
    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        self.sample_process()
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)

    def sample_process(self) -> None:
        """Record this worker's CPU and memory (multiprocess mode: called on a cadence)."""
        if not self.multiprocess:
            return
        times = os.times()
        self.worker_cpu.set(times.user + times.system)
        try:
            import psutil

            self.worker_memory.set(psutil.Process().memory_info().rss)
        except Exception:  # noqa: BLE001 - psutil missing or refused
            pass

    def snapshot(self) -> dict[str, Any]:
        """The figures since the previous snapshot, then start a new interval."""
        with self._lock:
            lat = np.asarray(self._latencies) if self._latencies else None
            out = {
                "requests": self._interval_requests,
                "rows": self._interval_rows,
                "errors": dict(self._interval_errors),
                "latency_ms": (
                    {
                        f"p{q}": float(np.percentile(lat, q))
                        for q in (50, 95, 99)
                    }
                    if lat is not None
                    else {}
                ),
                "quality": {k: dict(v) for k, v in self._quality.items() if v},
            }
            self._reset_interval()
        return out


def _quality_kind(problem: str) -> str | None:
    """Which data-quality figure a validation message counts toward."""
    if problem.startswith("missing value"):
        return "missing"
    if problem.startswith("unseen category"):
        return "unseen"
    if "smallest seen in training" in problem or "largest seen in training" in problem:
        return "out_of_range"
    return None
