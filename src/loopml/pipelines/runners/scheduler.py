"""The ready-queue scheduler shared by the process-pool and Dask runners.

Everything that touches the store stays here, in the driver, one node at a time: the cache
lookup, the step's child run, storing its outputs. Workers only call step functions
(:func:`~loopml.pipelines.runners.tasks.run_task`). A node is started as soon as all its
upstream nodes are done and a worker slot is free; a cache hit needs no slot. Retries and
timeouts are the driver's: a failed call is resubmitted after its backoff (without holding
up other nodes), a call past its timeout is abandoned (cancelled where the backend can) and
fails or retries like a call that raised :class:`StepTimeout`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from loopml.errors import LoopmlError
from loopml.pipelines.errors import StepTimeout
from loopml.pipelines.executor import Call, Execution
from loopml.pipelines.runners.tasks import (
    CALL,
    FunctionRef,
    Input,
    InputRef,
    StepTask,
    TaskOutcome,
)
from loopml.pipelines.runs import FAILED, SKIPPED, StepResult
from loopml.pipelines.tracing import Node, StepOutput


class Backend(Protocol):
    """Where step calls run. ``slots`` is how many calls may run at once (read only while
    at least one call is running); ``submit`` never blocks on the call itself."""

    label: str

    @property
    def slots(self) -> int: ...

    def function_ref(self, node: Node) -> FunctionRef: ...

    def submit(self, task: StepTask) -> cf.Future[TaskOutcome]: ...

    def abandon(self, future: cf.Future[TaskOutcome]) -> None: ...


@dataclass
class _Attempt:
    call: Call
    task: StepTask
    number: int
    deadline: float | None = None
    due: float = 0.0


class _Scheduler:
    def __init__(
        self,
        nodes: Mapping[str, Node],
        order: Sequence[str],
        execution: Execution,
        backend: Backend,
    ) -> None:
        self.nodes = nodes
        self.execution = execution
        self.backend = backend
        self.position = {node_id: i for i, node_id in enumerate(order)}
        self.results: dict[str, StepResult] = {}
        self.waiting = list(order)  # not yet ready, skipped or started
        self.ready: list[str] = []
        self.running: dict[cf.Future[TaskOutcome], _Attempt] = {}
        self.delayed: list[_Attempt] = []  # retries waiting for their backoff
        self.functions: dict[str, FunctionRef] = {}

    def run(self) -> dict[str, StepResult]:
        try:
            while True:
                self._settle()
                self._start()
                if not self.running and not self.delayed and not self.ready:
                    break
                self._wait()
        except BaseException:
            self._abort()
            raise
        return self.results

    # -- which nodes can start --------------------------------------------------------------
    def _settle(self) -> None:
        """Nodes whose upstream nodes all have results become ready, or skipped when one of
        them failed or was skipped (one pass: ``waiting`` is in topological order)."""
        still = []
        for node_id in self.waiting:
            node = self.nodes[node_id]
            upstream = node.upstream()
            if any(u not in self.results for u in upstream):
                still.append(node_id)
                continue
            blocked = [u for u in upstream if self.results[u].status in (FAILED, SKIPPED)]
            if blocked:
                self.results[node_id] = StepResult(
                    node.name,
                    node_id,
                    SKIPPED,
                    upstream=upstream,
                    error=f"{blocked[0]} {self.results[blocked[0]].status}",
                )
            else:
                self.ready.append(node_id)
        self.waiting = still

    def _free(self) -> bool:
        return not self.running or len(self.running) < self.backend.slots

    def _start(self) -> None:
        now = time.monotonic()
        for attempt in sorted(self.delayed, key=lambda a: a.due):
            if attempt.due > now or not self._free():
                break
            self.delayed.remove(attempt)
            self._submit(attempt)
        while self.ready and self._free():
            node_id = self.ready.pop(0)
            begun = self.execution.begin(node_id, parked=True)
            if isinstance(begun, StepResult):  # served from the cache (or the store refused)
                self.results[node_id] = begun
                self._settle()
                continue
            try:
                task = self._task(begun)
            except Exception as exc:  # noqa: BLE001 - inputs unreadable, function unsendable
                self._fail(begun, exc, traceback.format_exc())
                continue
            self._submit(_Attempt(begun, task, 1))

    def _task(self, call: Call) -> StepTask:
        node = call.node
        inputs: list[Input] = []
        slots: dict[tuple[str, int], InputRef] = {}

        def placeholder(handle: StepOutput) -> InputRef:
            key = (handle.node_id, handle.index)
            if key not in slots:
                stored = self.execution.outputs[handle.node_id][handle.index]
                slots[key] = InputRef(len(inputs))
                inputs.append(Input(stored.read_bytes(), stored.kind, stored.trusted))
            return slots[key]

        args, kwargs = self.execution.arguments(node, call.result.seed, resolve=placeholder)
        if node.node_id not in self.functions:
            self.functions[node.node_id] = self.backend.function_ref(node)
        return StepTask(
            node.node_id,
            node.name,
            self.functions[node.node_id],
            args,
            kwargs,
            inputs,
            call.result.seed,
            node.n_outputs,
            node.step.trusted,
        )

    def _submit(self, attempt: _Attempt) -> None:
        try:
            future = self.backend.submit(attempt.task)
        except Exception as exc:  # noqa: BLE001 - the backend refused the task
            attempt.call.result.attempts = attempt.number
            self._fail(attempt.call, exc, traceback.format_exc())
            return
        timeout = attempt.call.node.step.timeout
        attempt.deadline = None if timeout is None else time.monotonic() + timeout
        self.running[future] = attempt

    # -- waiting for calls --------------------------------------------------------------------
    def _wait(self) -> None:
        now = time.monotonic()
        wakes = [a.deadline for a in self.running.values() if a.deadline is not None]
        wakes += [a.due for a in self.delayed]
        timeout = max(0.0, min(wakes) - now) if wakes else None
        if self.running:
            done, _ = cf.wait(list(self.running), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        else:
            time.sleep(timeout or 0.0)
            done = set()
        for future in sorted(done, key=lambda f: self.position[self.running[f].call.node.node_id]):
            self._handle(self.running.pop(future), future)
        now = time.monotonic()
        for future, attempt in list(self.running.items()):
            if attempt.deadline is not None and now >= attempt.deadline and not future.done():
                del self.running[future]
                self.backend.abandon(future)
                self._timed_out(attempt)

    def _handle(self, attempt: _Attempt, future: cf.Future[TaskOutcome]) -> None:
        call = attempt.call
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - the worker or the transport failed
            call.result.attempts = attempt.number
            error = LoopmlError(
                f"the {self.backend.label} could not run step {call.node.name!r} "
                f"({type(exc).__name__}: {exc}); its arguments must be picklable and the "
                "worker must stay alive, or run it in-process"
            )
            error.__cause__ = exc
            self._fail(call, error, _describe(error))
            return
        from loopml.pipelines.step_logs import stage_log

        stage_log(call.run, outcome.log)
        if outcome.outputs is not None:
            call.result.attempts = attempt.number
            self.results[call.node.node_id] = self.execution.finish(call, outcome.outputs, None)
        elif outcome.phase == CALL:
            assert outcome.error is not None
            self._retry_or_fail(attempt, outcome.error, outcome.detail or "")
        else:
            assert outcome.error is not None
            call.result.attempts = attempt.number
            self._fail(call, outcome.error, outcome.detail or "")

    def _timed_out(self, attempt: _Attempt) -> None:
        step = attempt.call.node.step
        error = StepTimeout(
            f"step {step.name!r} did not finish within {step.timeout} s; it was abandoned "
            f"(the {self.backend.label} may still be running it). Raise @step(timeout=...) "
            "or make the step faster"
        )
        self._retry_or_fail(attempt, error, _describe(error))

    def _retry_or_fail(self, attempt: _Attempt, error: BaseException, detail: str) -> None:
        step = attempt.call.node.step
        if attempt.number <= step.retries:
            due = time.monotonic() + step.backoff * 2 ** (attempt.number - 1)
            self.delayed.append(_Attempt(attempt.call, attempt.task, attempt.number + 1, due=due))
            return
        with contextlib.suppress(Exception):  # some exception types refuse new attributes
            error._loopml_attempts = attempt.number  # type: ignore[attr-defined]
        attempt.call.result.attempts = attempt.number
        self._fail(attempt.call, error, detail)

    def _fail(self, call: Call, error: BaseException, detail: str) -> None:
        self.results[call.node.node_id] = self.execution.fail(call, error, detail)

    def _abort(self) -> None:
        """Interrupted (Ctrl-C) or the store failed: end the open step runs KILLED."""
        detail = traceback.format_exc()
        for future in self.running:
            with contextlib.suppress(Exception):
                self.backend.abandon(future)
        for attempt in [*self.running.values(), *self.delayed]:
            with contextlib.suppress(Exception):
                self.execution.kill(attempt.call, detail)
        self.running.clear()
        self.delayed.clear()


def run_ready_queue(
    nodes: Mapping[str, Node],
    order: Sequence[str],
    execution: Execution,
    backend: Backend,
) -> dict[str, StepResult]:
    """Run the DAG with step calls on ``backend``; statuses as the in-process runner gives."""
    return _Scheduler(nodes, order, execution, backend).run()


def _describe(error: BaseException) -> str:
    """A traceback text for an error that was not raised here (or raised in a worker)."""
    text = "".join(traceback.format_exception(error))
    if not text.startswith("Traceback"):
        text = "Traceback (most recent call last):\n  (raised by the pipeline runner)\n" + text
    return text


def is_execution(execute: Any) -> bool:
    return isinstance(execute, Execution)
