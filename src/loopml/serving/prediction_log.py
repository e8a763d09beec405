"""The prediction log: every prediction appended to the store off the request path.

``append`` only puts events in a bounded in-memory buffer (O(1), never blocks, never raises).
A background thread writes the buffer to the store in batches every ``flush_interval``
seconds (0.5 s by default, so a crash loses at most about the last second). When the store is
slow or down, events wait in the buffer and the write is retried; when the buffer is full, new
events are dropped and counted (``loopml_prediction_log_dropped_total``): predictions are never
blocked or failed by the log.

PII columns named in the project spec are hashed here (salted HMAC, ``LOOPML_PII_SALT``) or,
without a salt, dropped: they are never stored in clear.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from loopml.errors import InvalidInput
from loopml.store.base import Store
from loopml.store.entities import PredictionEvent, ServiceStats

log = logging.getLogger("loopml.serving")


class PredictionLog:
    def __init__(
        self,
        get_store: Callable[[], Store],
        *,
        model: str,
        pii: Sequence[str] = (),
        salt: str | None = None,
        max_buffer: int = 100_000,
        flush_interval: float = 0.5,
        batch_size: int = 5_000,
        stats_interval: float = 10.0,
        snapshot: Callable[[], dict[str, Any]] | None = None,
        on_tick: Callable[[], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._get_store = get_store
        self.model = model
        self.pii = list(pii)
        self.salt = salt if salt is not None else (os.environ.get("LOOPML_PII_SALT") or None)
        self.max_buffer = max_buffer
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.stats_interval = stats_interval
        self._snapshot = snapshot
        self._on_tick = on_tick
        self._on_drop = on_drop
        self._on_failure = on_failure
        self._buffer: deque[PredictionEvent] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time: the batch is then popped
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self._last_stats = time.monotonic()
        self._last_cpu = _cpu_seconds()
        if self.pii and not self.salt:
            log.warning(
                "PII columns %s will be dropped from the prediction log: set LOOPML_PII_SALT "
                "to store salted hashes of them instead", ", ".join(self.pii)
            )

    # -- request path ---------------------------------------------------------------
    def append(self, events: Sequence[PredictionEvent]) -> None:
        """Queue events for the store; drop (and count) what does not fit. Never blocks."""
        with self._lock:
            room = self.max_buffer - len(self._buffer)
            if room >= len(events):
                self._buffer.extend(events)
                dropped = 0
            else:
                self._buffer.extend(events[: max(room, 0)])
                dropped = len(events) - max(room, 0)
                self.dropped += dropped
        if dropped and self._on_drop is not None:
            self._on_drop(dropped)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- background -----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loopml-prediction-log", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after a last flush (bounded by ``timeout`` seconds)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush(self) -> int:
        """Write what is buffered now; on failure keep it for the next try. Returns written."""
        with self._flush_lock:
            return self._flush()

    def _flush(self) -> int:
        written = 0
        while True:
            with self._lock:
                batch = [self._buffer[i] for i in range(min(self.batch_size, len(self._buffer)))]
            if not batch:
                return written
            try:
                self._get_store().log_predictions(self._protect(batch))
            except InvalidInput as exc:
                # a bad event would block the log forever: store the others one by one
                log.warning("prediction log: %s; storing the batch event by event", exc)
                self._write_one_by_one(batch)
            except Exception as exc:  # noqa: BLE001 - the store may fail in any way
                log.warning("prediction log: store write failed (%s); will retry", exc)
                if self._on_failure is not None:
                    self._on_failure()
                return written
            with self._lock:
                for _ in range(len(batch)):
                    self._buffer.popleft()
            written += len(batch)
            self.written += len(batch)

    def _write_one_by_one(self, batch: list[PredictionEvent]) -> None:
        bad = 0
        for event in batch:
            try:
                self._get_store().log_predictions(self._protect([event]))
            except InvalidInput:
                bad += 1
        if bad:
            self.dropped += bad
            if self._on_drop is not None:
                self._on_drop(bad)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
                if self._on_tick is not None:
                    self._on_tick()
                if time.monotonic() - self._last_stats >= self.stats_interval:
                    self.write_stats()
            except Exception as exc:  # noqa: BLE001 - the log thread must outlive any failure
                log.warning("prediction log: %s", exc)
        self.flush()
        self.write_stats()

    def write_stats(self) -> None:
        """Store one ``ServiceStats`` snapshot of the interval just ended."""
        if self._snapshot is None:
            return
        now = time.monotonic()
        interval = max(now - self._last_stats, 1e-9)
        cpu = _cpu_seconds()
        figures = self._snapshot()
        stats = ServiceStats(
            model=self.model,
            instance=self.instance,
            time=int(time.time() * 1000),
            interval_s=interval,
            requests=figures["requests"],
            rows=figures["rows"],
            errors=figures["errors"],
            latency_ms=figures["latency_ms"],
            cpu_percent=100.0 * (cpu - self._last_cpu) / interval,
            rss_bytes=_rss_bytes(),
            dropped_events=self.dropped,
            quality=figures["quality"],
        )
        self._last_stats, self._last_cpu = now, cpu
        try:
            self._get_store().log_service_stats(stats)
        except Exception as exc:  # noqa: BLE001
            log.warning("service stats: store write failed (%s)", exc)

    # -- PII ------------------------------------------------------------------------
    def _protect(self, batch: list[PredictionEvent]) -> list[PredictionEvent]:
        if not self.pii:
            return batch
        import dataclasses

        import pandas as pd

        from loopml.data.anonymize import hash_series

        present = [c for c in self.pii if c in batch[0].inputs]
        if not present:
            return batch
        tokens: dict[str, list[Any]] = {}
        if self.salt:
            for column in present:
                values = pd.Series([e.inputs.get(column) for e in batch], dtype=object)
                hashed = hash_series(values, self.salt)
                tokens[column] = [None if pd.isna(v) else v for v in hashed.tolist()]
        out = []
        for i, event in enumerate(batch):
            inputs = {k: v for k, v in event.inputs.items() if k not in present}
            for column, values in tokens.items():
                inputs[column] = values[i]
            out.append(dataclasses.replace(event, inputs=inputs))
        return out


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing or the platform says no
        return 0
