"""Adaptive micro-batching: concurrent requests merge into one vectorised call.

Each request is a *job* (its rows and a future). One dispatcher task per batcher takes jobs in
arrival order, up to ``max_batch_rows`` rows (counted in rows, not requests), hands them to
``process`` in a worker thread, and gives each job back exactly its own result. ``process``
returns one result per job, in order, so answers can never cross between callers (the class of
bug behind BentoML #3859/#3710 and MLServer #1306). A job larger than ``max_batch_rows`` runs
alone rather than being split.

Waiting: a lone request under no load is dispatched at once. Only when the previous batch held
several jobs (the service is under concurrent load) does the dispatcher linger for more, and
only while new jobs keep arriving, up to ``max_wait_ms`` after the oldest one.

Load shedding: when the work already queued cannot start within ``max_latency_ms`` (estimated
from recent batch times), ``submit`` raises :class:`Overloaded` with a Retry-After in seconds
instead of queueing without bound; a job that waited past the bound anyway is shed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


class Overloaded(Exception):
    """The queue cannot meet the latency bound; answer 503 with ``retry_after`` seconds."""

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class BatchLimits:
    max_batch_rows: int = 64
    max_wait_ms: float = 5.0
    max_latency_ms: float = 2000.0
    max_queue_rows: int = 50_000


@dataclass
class Job:
    rows: Sequence[Any]
    future: asyncio.Future[Any]
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def n(self) -> int:
        return len(self.rows)


Process = Callable[[list[Job]], list[Any]]


class MicroBatcher:
    """Merge concurrent jobs into batches for ``process`` (called in a worker thread)."""

    def __init__(
        self,
        process: Process,
        limits: BatchLimits = BatchLimits(),
        *,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.process = process
        self.limits = limits
        self.on_batch = on_batch  # (rows, jobs, seconds) after each batch
        self._queue: deque[Job] = deque()
        self._queued_rows = 0
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-batch")
        self._batch_seconds = 0.0  # EWMA of one batch's duration
        self._last_jobs = 0
        self._busy_since: float | None = None

    # -- public ---------------------------------------------------------------------
    async def submit(self, rows: Sequence[Any]) -> Any:
        """Queue ``rows`` as one job and wait for its own result."""
        self._ensure_started()
        self._admit(len(rows))
        loop = asyncio.get_running_loop()
        job = Job(rows, loop.create_future())
        self._queue.append(job)
        self._queued_rows += job.n
        assert self._arrived is not None
        self._arrived.set()
        return await job.future

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for job in self._queue:
            if not job.future.done():
                job.future.set_exception(Overloaded(1, "the service is shutting down"))
        self._queue.clear()
        self._queued_rows = 0
        self._executor.shutdown(wait=True)

    # -- admission ------------------------------------------------------------------
    def estimated_wait(self, extra_rows: int = 0) -> float:
        """Seconds until a job queued now would start (batches ahead x recent batch time)."""
        rows = self._queued_rows + extra_rows
        batches = math.ceil(rows / self.limits.max_batch_rows) if rows else 0
        running = 0.0
        if self._busy_since is not None:
            running = max(self._batch_seconds - (time.monotonic() - self._busy_since), 0.0)
        return running + batches * self._batch_seconds

    def _admit(self, n: int) -> None:
        limits = self.limits
        if self._queued_rows + n > limits.max_queue_rows:
            raise Overloaded(
                self._retry_after(), f"the queue holds {self._queued_rows} rows; try again later"
            )
        wait = self.estimated_wait(n)
        if wait * 1000 > limits.max_latency_ms:
            raise Overloaded(
                self._retry_after(),
                f"the queue would take about {wait * 1000:.0f} ms, over the "
                f"{limits.max_latency_ms:.0f} ms bound; try again later",
            )

    def _retry_after(self) -> int:
        return max(1, math.ceil(self.estimated_wait()))

    # -- dispatch -------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._arrived = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def _dispatch_forever(self) -> None:
        assert self._arrived is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            if self._last_jobs > 1:
                await self._linger()
            jobs = self._take()
            if not jobs:
                continue
            self._busy_since = time.monotonic()
            try:
                results = await loop.run_in_executor(self._executor, self.process, jobs)
            except Exception as exc:  # noqa: BLE001 - the batch fails, the service does not
                results = [exc] * len(jobs)
            seconds = time.monotonic() - self._busy_since
            self._busy_since = None
            self._batch_seconds = seconds if not self._batch_seconds else (
                0.8 * self._batch_seconds + 0.2 * seconds
            )
            self._last_jobs = len(jobs)
            for job, result in zip(jobs, results, strict=True):
                if job.future.done():  # the caller went away
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)
            if self.on_batch is not None:
                self.on_batch(sum(j.n for j in jobs), len(jobs), seconds)

    async def _linger(self) -> None:
        """Under load, wait for more jobs while they keep coming (bounded by max_wait_ms)."""
        assert self._arrived is not None
        limits = self.limits
        deadline = self._queue[0].enqueued + limits.max_wait_ms / 1000
        gap = max(limits.max_wait_ms / 1000 / 4, 0.0005)
        while self._queued_rows < limits.max_batch_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(gap, remaining))
            except TimeoutError:
                return  # arrivals paused: go with what we have

    def _take(self) -> list[Job]:
        """Jobs in arrival order up to max_batch_rows rows; shed those that waited too long."""
        limit = self.limits.max_batch_rows
        bound = self.limits.max_latency_ms / 1000
        now = time.monotonic()
        jobs: list[Job] = []
        rows = 0
        while self._queue:
            job = self._queue[0]
            if jobs and rows + job.n > limit:
                break
            self._queue.popleft()
            self._queued_rows -= job.n
            if job.future.done():
                continue
            if now - job.enqueued > bound:
                job.future.set_exception(
                    Overloaded(
                        self._retry_after(),
                        "the request waited past the latency bound; try again later",
                    )
                )
                continue
            jobs.append(job)
            rows += job.n
        return jobs
