"""The buffered metric writer: ``log_metric`` appends to memory in about a microsecond, and a
background thread writes the buffer in one transaction about once a second.

Points reach the store on ``flush()``, at run end, when the buffer passes
``batch_points``, every ``interval`` seconds, and at interpreter exit. If the store fails,
the points stay buffered and the next flush retries; a crash loses at most the unflushed
tail, and the store itself is never left half-written (each flush is one transaction).
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from loopml.store.base import Store
from loopml.store.entities import MetricSeries

log = logging.getLogger("loopml.tracking")

_Points = tuple[list[int], list[int], list[float]]


class MetricWriter:
    def __init__(
        self,
        store: Store,
        *,
        interval: float = 1.0,
        batch_points: int = 200_000,
        max_points: int = 2_000_000,
    ) -> None:
        self.store = store
        self.interval = interval
        self.batch_points = batch_points
        self.max_points = max_points  # past this, callers wait for a flush (bounded memory)
        self._buffer: dict[tuple[str, str], _Points] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="loopml-writer", daemon=True)
        self._thread.start()

    # -- called by user code (hot path) ---------------------------------------------
    def add(self, run_id: str, key: str, value: float, step: int, timestamp: int) -> None:
        with self._lock:
            points = self._buffer.get((run_id, key))
            if points is None:
                points = self._buffer[(run_id, key)] = ([], [], [])
            points[0].append(step)
            points[1].append(timestamp)
            points[2].append(value)
            self._count += 1
            count = self._count
        if count >= self.batch_points:
            self._on_full(count)

    def add_many(self, run_id: str, values: dict[str, float], step: int, timestamp: int) -> None:
        with self._lock:
            buffer = self._buffer
            for key, value in values.items():
                points = buffer.get((run_id, key))
                if points is None:
                    points = buffer[(run_id, key)] = ([], [], [])
                points[0].append(step)
                points[1].append(timestamp)
                points[2].append(value)
            self._count += len(values)
            count = self._count
        if count >= self.batch_points:
            self._on_full(count)

    # -- flushing -------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered now; raise if the store refuses it."""
        with self._flush_lock:
            with self._lock:
                buffer, self._buffer, self._count = self._buffer, {}, 0
            # every point was validated at the call (int64 steps, float values): packing
            # cannot fail, so a failed write below is the store's and is retried
            batches = _series(buffer)
            try:
                if batches:
                    self.store.log_metric_batches(batches)
            except BaseException as exc:
                self._requeue(buffer)
                self._last_error = exc
                raise
            self._last_error = None

    def take(self, run_id: str) -> list[MetricSeries]:
        """Remove and return one run's buffered points (its end writes them itself)."""
        with self._lock:
            idents = [ident for ident in self._buffer if ident[0] == run_id]
            taken = {ident: self._buffer.pop(ident) for ident in idents}
            self._count -= sum(len(points[0]) for points in taken.values())
        return _series(taken)

    def give_back(self, batches: list[MetricSeries]) -> None:
        """Undo ``take`` when the run's end could not be written."""
        self._requeue(
            {
                (b.run_id, b.key): (b.steps.tolist(), b.timestamps.tolist(), b.values.tolist())
                for b in batches
            }
        )

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()

    @property
    def pending(self) -> int:
        return self._count

    def _on_full(self, count: int) -> None:
        self._wake.set()
        if count >= self.max_points:
            self.flush()  # back-pressure: the caller waits rather than memory growing

    def _requeue(self, buffer: dict[tuple[str, str], _Points]) -> None:
        with self._lock:
            for ident, (steps, stamps, values) in buffer.items():
                added = len(steps)
                newer = self._buffer.get(ident)
                if newer is not None:  # logged while the failed write was in flight
                    steps.extend(newer[0])
                    stamps.extend(newer[1])
                    values.extend(newer[2])
                self._buffer[ident] = (steps, stamps, values)
                self._count += added

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.wait(timeout=self.interval * min(2**failures, 30))
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self._count:
                continue
            try:
                self.flush()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - keep the data, retry with backoff
                failures += 1
                log.warning("loopml could not write metrics (will retry): %s", exc)


def _series(buffer: dict[tuple[str, str], _Points]) -> list[MetricSeries]:
    return [
        MetricSeries(
            run_id=rid,
            key=key,
            steps=np.array(steps, dtype=np.int64),
            timestamps=np.array(stamps, dtype=np.int64),
            values=np.array(values, dtype=np.float64),
        )
        for (rid, key), (steps, stamps, values) in buffer.items()
    ]
