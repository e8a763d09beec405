"""Independent branches of a pipeline on a Dask cluster (``dask://host:port`` or a
``distributed.Client``).

Workers need loopml installed, nothing else of the project: each step function travels by
value with cloudpickle (the user's own modules by value, installed libraries by name), its
inputs as the bytes loopml stores, its outputs come back the same way. The store and the
artifact root are only ever touched here, so workers need no access to them.

One step at a time per worker process (steps seed the process-wide generators): the runner
keeps as many steps in flight as the cluster has worker processes, so prefer workers with
one thread each (``LocalCluster(processes=True, threads_per_worker=1)``).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loopml.errors import LoopmlError
from loopml.pipelines.executor import InProcessRunner
from loopml.pipelines.runners import tasks
from loopml.pipelines.runners.scheduler import is_execution, run_ready_queue
from loopml.pipelines.runs import StepResult
from loopml.pipelines.tracing import Node

CONNECT_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 30.0


class DaskRunner:
    """Run steps on a Dask cluster: give the scheduler ``address`` (``host:port`` or
    ``tcp://host:port``; a client is opened and closed per pipeline run) or a ``client``
    (used as is, left open)."""

    def __init__(self, address: str | None = None, *, client: Any = None) -> None:
        if (address is None) == (client is None):
            raise LoopmlError("DaskRunner needs exactly one of address= or client=")
        self.address = address if address is None or "://" in address else f"tcp://{address}"
        self.client = client

    def __repr__(self) -> str:
        return f"DaskRunner({self.address or self.client!r})"

    def run(
        self,
        nodes: Mapping[str, Node],
        order: Sequence[str],
        execute: Callable[[str], StepResult],
    ) -> dict[str, StepResult]:
        if not is_execution(execute):  # a bare callable cannot be split: run it here
            return InProcessRunner().run(nodes, order, execute)
        client = self.client or _connect(self.address or "")
        try:
            backend = _DaskBackend(client)
            return run_ready_queue(nodes, order, execute, backend)  # type: ignore[arg-type]
        finally:
            if self.client is None:
                with contextlib.suppress(Exception):
                    client.close()


def _connect(address: str) -> Any:
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise LoopmlError(
            f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); start "
            "one (`dask scheduler`, or distributed.LocalCluster) or fix the address in "
            "runner='dask://host:port'"
        ) from exc


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise LoopmlError(
            "the Dask runner needs Dask: pip install 'loopml[dask]' (dask[distributed])"
        ) from exc
    return distributed


class _DaskBackend:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.label = f"Dask cluster at {getattr(client.scheduler, 'address', '?')}"
        self._functions: dict[int, tasks.FunctionRef] = {}
        self._workers = len(client.nthreads())
        if self._workers == 0:
            try:
                client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise LoopmlError(
                    f"the {self.label} has no workers (waited {WORKERS_TIMEOUT_S:.0f} s); "
                    "start some (`dask worker ADDRESS`)"
                ) from exc
            self._workers = len(client.nthreads())

    @property
    def slots(self) -> int:
        return self._workers

    def function_ref(self, node: Node) -> tasks.FunctionRef:
        key = id(node.step)  # one payload per step, however many times the DAG calls it
        if key not in self._functions:
            self._functions[key] = tasks.function_ref(node.step.function, node.name, by_value=True)
        return self._functions[key]

    def submit(self, task: tasks.StepTask) -> cf.Future[tasks.TaskOutcome]:
        key = f"loopml-{task.node_id}-{uuid.uuid4().hex[:12]}"
        remote = self.client.submit(tasks.run_task, task, key=key, pure=False)
        local: cf.Future[tasks.TaskOutcome] = cf.Future()
        local.set_running_or_notify_cancel()
        local.remote = remote  # type: ignore[attr-defined]

        def settle(done: Any) -> None:
            if local.done():
                return
            try:
                outcome = done.result()
            except BaseException as exc:  # noqa: BLE001 - handed to the driver
                with contextlib.suppress(cf.InvalidStateError):
                    local.set_exception(exc)
            else:
                with contextlib.suppress(cf.InvalidStateError):
                    local.set_result(outcome)

        remote.add_done_callback(settle)
        return local

    def abandon(self, future: cf.Future[Any]) -> None:
        remote = getattr(future, "remote", None)
        if remote is not None:
            with contextlib.suppress(Exception):
                remote.cancel()
