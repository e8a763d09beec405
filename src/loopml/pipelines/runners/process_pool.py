"""Independent branches of a pipeline on a local pool of worker processes.

On Linux the workers are forked from this process when the first step is submitted, after
the pipeline was traced: they inherit every step function, including steps defined inside
functions or in files loaded by path, and nothing is pickled but the inputs and outputs.
Elsewhere (or with ``start_method="spawn"``) workers start fresh and import the steps by
module (or load their file), or receive them by value when cloudpickle is installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipelines.executor import InProcessRunner
from loopml.pipelines.runners import tasks
from loopml.pipelines.runners.scheduler import is_execution, run_ready_queue
from loopml.pipelines.runs import StepResult
from loopml.pipelines.tracing import Node

_START_METHODS = ("fork", "spawn", "forkserver")


class ProcessPoolRunner:
    """Run steps on ``workers`` local processes (default: one per CPU), as many at once as
    the DAG allows. Tracking, cache and artifact storage stay in this process."""

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise InvalidInput(f"a process pool needs workers >= 1, not {workers!r}")
        if start_method is not None and start_method not in _START_METHODS:
            raise InvalidInput(
                f"start_method must be one of {', '.join(_START_METHODS)}, not {start_method!r}"
            )
        self.workers = workers or os.cpu_count() or 1
        self.start_method = start_method or default_start_method()

    def __repr__(self) -> str:
        return f"ProcessPoolRunner(workers={self.workers}, start_method={self.start_method!r})"

    def run(
        self,
        nodes: Mapping[str, Node],
        order: Sequence[str],
        execute: Callable[[str], StepResult],
    ) -> dict[str, StepResult]:
        if not is_execution(execute):  # a bare callable cannot be split: run it here
            return InProcessRunner().run(nodes, order, execute)
        backend = _PoolBackend(nodes, min(self.workers, max(1, len(nodes))), self.start_method)
        try:
            return run_ready_queue(nodes, order, execute, backend)  # type: ignore[arg-type]
        finally:
            backend.close()


def default_start_method() -> str:
    """fork on Linux (fast, and steps need not be importable); spawn elsewhere."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


class _PoolBackend:
    """A ``ProcessPoolExecutor`` created at the first submit. A call abandoned after its
    timeout keeps its worker busy: it counts against the slots, and when abandoned calls
    hold every worker the pool is replaced (its processes terminated)."""

    def __init__(self, nodes: Mapping[str, Node], workers: int, start_method: str) -> None:
        self.workers = workers
        self.start_method = start_method
        self.label = f"process pool ({start_method}, {workers} worker{'s' * (workers != 1)})"
        self.token = uuid.uuid4().hex
        self.forked = start_method == "fork"
        if self.forked:
            tasks.register_functions(
                self.token, {node_id: node.step.function for node_id, node in nodes.items()}
            )
        self._by_value = not self.forked and _has_cloudpickle()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._orphans: list[cf.Future[Any]] = []

    @property
    def slots(self) -> int:
        return max(0, self.workers - self._live_orphans())

    def function_ref(self, node: Node) -> tasks.FunctionRef:
        inherited = (self.token, node.node_id) if self.forked else None
        return tasks.function_ref(
            node.step.function, node.name, inherited=inherited, by_value=self._by_value
        )

    def submit(self, task: tasks.StepTask) -> cf.Future[tasks.TaskOutcome]:
        if self._pool is not None and self._live_orphans() >= self.workers:
            self._retire(self._pool)
            self._pool = None
        if self._pool is None:
            self._pool = self._new_pool()
        try:
            return self._submit(task)
        except BrokenProcessPool:  # a worker died (and failed its pool's calls)
            self._retire(self._pool)
            self._pool = self._new_pool()
            return self._submit(task)

    def _submit(self, task: tasks.StepTask) -> cf.Future[tasks.TaskOutcome]:
        assert self._pool is not None
        with warnings.catch_warnings():  # Python >= 3.12 warns at a fork with threads alive
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            return self._pool.submit(tasks.run_task, task)

    def abandon(self, future: cf.Future[Any]) -> None:
        if not future.cancel():
            self._orphans.append(future)

    def close(self) -> None:
        """Idle workers exit; workers still running an abandoned call are terminated."""
        try:
            if self._pool is not None:
                if self._live_orphans():
                    self._retire(self._pool)
                else:
                    self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if self.forked:
                tasks.forget_functions(self.token)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context(self.start_method)
        initializer = tasks.init_forked_worker if self.forked else None
        return cf.ProcessPoolExecutor(self.workers, mp_context=context, initializer=initializer)

    def _retire(self, pool: cf.ProcessPoolExecutor) -> None:
        """Stop a pool now, terminating its workers (abandoned calls die with them)."""
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(2)
        self._orphans = []

    def _live_orphans(self) -> int:
        self._orphans = [f for f in self._orphans if not f.done()]
        return len(self._orphans)


def _has_cloudpickle() -> bool:
    try:
        import cloudpickle  # noqa: F401
    except ImportError:
        return False
    return True
