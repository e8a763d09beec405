"""Executing a traced pipeline: per node, a cache lookup or a call (seeded, retried, timed
out), then the outputs stored as artifacts and the node recorded as a child run.

A :class:`Runner` only decides *when* and *where* nodes run; :meth:`Execution.execute` does
the rest. The in-process runner walks the topological order. Runners that call steps
elsewhere (``loopml.pipelines.runners``: process pool, Dask) use the same steps split in
three: :meth:`Execution.begin` (cache lookup, or the child run opened), the call in a worker,
then :meth:`Execution.finish` or :meth:`Execution.fail` (outputs stored, run ended).
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import json
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loopml.errors import LoopmlError
from loopml.pipelines import cache, serializers
from loopml.pipelines.errors import StepTimeout
from loopml.pipelines.runs import CACHED, EXECUTED, FAILED, SKIPPED, StepResult
from loopml.pipelines.step import Step
from loopml.pipelines.step_logs import captured_output, stage_log
from loopml.pipelines.tracing import Node, StepOutput, has_handles, iter_handles, replace_handles

_PARAM_TEXT_LIMIT = 500


class Runner(Protocol):
    """Runs every node once its upstream nodes are done; a node whose upstream failed or was
    skipped is not run and gets status ``skipped``. Returns results by node id.

    ``Pipeline.run`` passes its :class:`Execution` as ``execute`` (it is callable with a node
    id); a runner that ships calls to workers uses its ``begin``/``finish``/``fail``."""

    def run(
        self,
        nodes: Mapping[str, Node],
        order: Sequence[str],
        execute: Callable[[str], StepResult],
    ) -> dict[str, StepResult]: ...


class InProcessRunner:
    """One node at a time, in topological order, in this process. Branches independent of a
    failure still run, so their results are cached for the next attempt."""

    def run(
        self,
        nodes: Mapping[str, Node],
        order: Sequence[str],
        execute: Callable[[str], StepResult],
    ) -> dict[str, StepResult]:
        results: dict[str, StepResult] = {}
        for node_id in order:
            node = nodes[node_id]
            blocked = [u for u in node.upstream() if results[u].status in (FAILED, SKIPPED)]
            if blocked:
                results[node_id] = StepResult(
                    node.name,
                    node_id,
                    SKIPPED,
                    upstream=node.upstream(),
                    error=f"{blocked[0]} {results[blocked[0]].status}",
                )
                continue
            results[node_id] = execute(node_id)
        return results


@dataclass
class StoredOutput:
    """One output of a node: its digest and artifact path; the value is loaded on first use
    (a fully cached run never reads the outputs nobody asks for)."""

    digest: str
    path: str
    kind: str
    trusted: bool
    value: Any = None
    loaded: bool = False
    data: bytes | None = None  # the encoded bytes, kept when a worker made the value

    def get(self) -> Any:
        if not self.loaded:
            self.value = serializers.decode(self.read_bytes(), self.kind, trusted=self.trusted)
            self.loaded = True
        return self.value

    def read_bytes(self) -> bytes:
        """The encoded output, checked against its digest when read from the store."""
        if self.data is not None:
            return self.data
        from loopml.tracking import state

        data = state.get_artifacts().read_bytes(self.digest)
        if hashlib.sha256(data).hexdigest() != self.digest:
            raise LoopmlError(
                f"the stored output {self.path} ({self.digest}) does not match its digest; "
                "the artifact store was modified. Re-run with cache=False to rebuild it"
            )
        return data


@dataclass
class Call:
    """A node being called: its child run is open and ``result`` is filled up to the call.
    Whoever makes the call hands it back to :meth:`Execution.finish` or :meth:`Execution.fail`."""

    node: Node
    result: StepResult
    run: Any
    started: float


def derive_seed(seed: int, step_name: str, occurrence: int) -> int:
    """A step's own seed: stable for the same run seed, different between steps."""
    digest = hashlib.sha256(f"{seed}:{step_name}:{occurrence}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**32


@dataclass
class Execution:
    """State of one pipeline run shared by its nodes: outputs by node and memoised hashes."""

    nodes: Mapping[str, Node]
    seed: int
    use_cache: bool = True
    outputs: dict[str, list[StoredOutput]] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    _code_hashes: dict[int, str] = field(default_factory=dict)

    def digest_of(self, handle: StepOutput) -> str:
        return self.outputs[handle.node_id][handle.index].digest

    def value_of(self, handle: StepOutput) -> Any:
        return self.outputs[handle.node_id][handle.index].get()

    def code_hash(self, step: Step) -> str:
        key = id(step)
        if key not in self._code_hashes:
            self._code_hashes[key] = cache.code_hash(step.function)
        return self._code_hashes[key]

    def __call__(self, node_id: str) -> StepResult:
        return self.execute(node_id)

    def execute(self, node_id: str) -> StepResult:
        """Run one node whose upstream nodes all succeeded (cache hit or call), here."""
        begun = self.begin(node_id)
        if isinstance(begun, StepResult):
            return begun
        node = begun.node
        try:
            args, kwargs = self.arguments(node, begun.result.seed)
            try:
                with captured_output() as log:
                    value, begun.result.attempts = call_with_retries(
                        node.step, args, kwargs, begun.result.seed
                    )
            finally:
                stage_log(begun.run, log.getvalue())
            values = split_outputs(node.name, node.n_outputs, value)
            encoded = [
                serializers.encode(item, step=node.name, trusted=node.step.trusted)
                for item in values
            ]
        except Exception as exc:  # noqa: BLE001 - any step error fails this node, not the process
            return self.fail(begun, exc, traceback.format_exc())
        except BaseException:
            self.kill(begun)
            raise
        return self.finish(begun, encoded, values)

    def begin(self, node_id: str, *, parked: bool = False) -> StepResult | Call:
        """A cache hit is recorded and returned as a finished :class:`StepResult`; otherwise
        the node's child run is opened (params logged) and the :class:`Call` returned.

        ``parked=True`` keeps the child run below the pipeline run in the stack of active
        runs, so runs opened meanwhile for sibling nodes are children of the pipeline too
        (and exit hooks still end it)."""
        node = self.nodes[node_id]
        result = StepResult(node.name, node_id, EXECUTED, upstream=node.upstream())
        result.seed = derive_seed(self.seed, node.name, node.occurrence)
        result.code_hash = self.code_hash(node.step)
        result.inputs = {
            name: [self.digest_of(h) for h in iter_handles(value)]
            for name, value in node.arguments.items()
            if has_handles(value)
        }
        try:
            result.cache_key = cache.cache_key(
                node.step, result.code_hash, node.arguments, self.digest_of, result.seed
            )
        except cache.Uncacheable:
            result.cache_key = None
        hit = None
        if result.cache_key and node.step.cache and self.use_cache:
            hit = cache.lookup(result.cache_key, node.n_outputs)
        if hit is not None:
            return self._reuse(node, result, hit)
        return self._open(node, result, parked)

    def _tags(self, node: Node, result: StepResult, cached: bool) -> dict[str, str]:
        return {
            "loopml.step": node.name,
            "loopml.node": node.node_id,
            "loopml.cache_key": result.cache_key or "uncacheable",
            "loopml.code_hash": result.code_hash or "",
            "loopml.cached": "true" if cached else "false",
        }

    def _reuse(self, node: Node, result: StepResult, hit: cache.CachedOutputs) -> StepResult:
        from loopml.models.run import start_run
        from loopml.store.entities import ArtifactRecord
        from loopml.tracking import state

        started = time.perf_counter()
        tags = {**self._tags(node, result, True), "loopml.cached_from": hit.run_id}
        with start_run(name=node.name, tags=tags) as run:
            run.log_params(_params(node))
            records = [ArtifactRecord(path, sha, size) for path, sha, size in hit.outputs]
            state.get_store().log_artifacts(run.run_id, records)
            result.status, result.run_id = CACHED, run.run_id
            result.duration_s = time.perf_counter() - started
            run.log_metrics({"duration_s": result.duration_s})
        self.outputs[node.node_id] = [
            StoredOutput(sha, path, serializers.kind_from_path(path), node.step.trusted)
            for path, sha, _ in hit.outputs
        ]
        result.output_paths = [path for path, _, _ in hit.outputs]
        result.output_digests = [sha for _, sha, _ in hit.outputs]
        return result

    def _open(self, node: Node, result: StepResult, parked: bool) -> StepResult | Call:
        from loopml.models.run import start_run

        started = time.perf_counter()
        run = start_run(name=node.name, seed=result.seed, tags=self._tags(node, result, False))
        if parked:
            _park(run)
        result.run_id = run.run_id
        call = Call(node, result, run, started)
        try:
            run.log_params(_params(node))
        except Exception as exc:  # noqa: BLE001 - the store refused: this node fails
            return self.fail(call, exc, traceback.format_exc())
        except BaseException:
            self.kill(call)
            raise
        return call

    def finish(
        self, call: Call, encoded: Sequence[serializers.Encoded], values: Sequence[Any] | None
    ) -> StepResult:
        """Store the encoded outputs, record timings and end the child run FINISHED.
        ``values`` (the decoded outputs) are kept in memory when the call ran here."""
        node, result, run = call.node, call.result, call.run
        try:
            stored = []
            for index, item in enumerate(encoded):
                path = run.stage_bytes(item.data, f"outputs/{index}.{item.suffix}")
                digest = hashlib.sha256(item.data).hexdigest()
                if values is None:
                    output = StoredOutput(
                        digest, path, item.kind, node.step.trusted, data=item.data
                    )
                else:
                    output = StoredOutput(
                        digest, path, item.kind, node.step.trusted, values[index], True
                    )
                stored.append(output)
            self.outputs[node.node_id] = stored
            result.output_paths = [s.path for s in stored]
            result.output_digests = [s.digest for s in stored]
            result.duration_s = time.perf_counter() - call.started
            run.log_metrics({"duration_s": result.duration_s, "attempts": result.attempts})
            run.end("FINISHED")
        except Exception as exc:  # noqa: BLE001 - storing failed: this node fails
            return self.fail(call, exc, traceback.format_exc())
        except BaseException:
            self.kill(call)
            raise
        return result

    def fail(self, call: Call, exc: BaseException, detail: str) -> StepResult:
        """Mark the node failed with ``exc``; ``detail`` (the traceback) goes to its run."""
        result, run = call.result, call.run
        result.status = FAILED
        result.error = f"{type(exc).__name__}: {exc}"
        result.duration_s = time.perf_counter() - call.started
        result.attempts = max(result.attempts, getattr(exc, "_loopml_attempts", 1))
        self.errors[call.node.node_id] = exc
        run.log_metrics({"duration_s": result.duration_s, "attempts": result.attempts})
        run.end("FAILED", error=detail)
        return result

    def kill(self, call: Call, detail: str | None = None) -> None:
        """End the node's run KILLED (the run itself was interrupted)."""
        call.run.end("KILLED", error=detail or traceback.format_exc())

    def arguments(
        self,
        node: Node,
        seed: int | None,
        resolve: Callable[[StepOutput], Any] | None = None,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Positional and keyword arguments with values in place of handles (and the seed).
        ``resolve`` maps a handle to what replaces it (default: its value)."""
        resolve = resolve or self.value_of
        ordered: dict[str, Any] = {}
        for name in node.step.signature.parameters:
            if name in node.arguments:
                ordered[name] = replace_handles(node.arguments[name], resolve)
            elif name == "seed" and node.inject_seed:
                ordered[name] = seed
        bound = inspect.BoundArguments(node.step.signature, ordered)  # type: ignore[arg-type]
        return bound.args, bound.kwargs


def call_with_retries(
    step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], seed: int | None
) -> tuple[Any, int]:
    """Call the step; on an error wait ``backoff * 2**(attempt-1)`` s and try again, up to
    ``retries`` times. Each attempt starts from the same random state."""
    from loopml.tracking.seeding import seed_everything

    attempt = 0
    while True:
        attempt += 1
        if seed is not None:
            seed_everything(seed)
        try:
            return _call_once(step, args, kwargs), attempt
        except Exception as exc:
            if attempt > step.retries:
                exc._loopml_attempts = attempt  # type: ignore[attr-defined]
                raise
            time.sleep(step.backoff * 2 ** (attempt - 1))


def _call_once(step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """With a timeout the call runs in a daemon worker thread. Python cannot stop a thread: on
    timeout the thread is abandoned and keeps running until the function returns."""
    if step.timeout is None:
        return step.function(*args, **kwargs)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = step.function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(target,), name=f"loopml-step-{step.name}", daemon=True
    )
    worker.start()
    worker.join(step.timeout)
    if worker.is_alive():
        raise StepTimeout(
            f"step {step.name!r} did not finish within {step.timeout} s; it was abandoned (its "
            "thread may still be running). Raise @step(timeout=...) or make the step faster"
        )
    if "error" in box:
        raise box["error"]
    return box.get("value")


def split_outputs(step_name: str, n_outputs: int, value: Any) -> list[Any]:
    """A step's return value as its list of outputs (a tuple of ``n_outputs`` when > 1)."""
    if n_outputs == 1:
        return [value]
    if not isinstance(value, tuple | list) or len(value) != n_outputs:
        got = f"{len(value)} values" if isinstance(value, tuple | list) else type(value).__name__
        raise LoopmlError(
            f"step {step_name!r} declares {n_outputs} outputs but returned {got}; return a "
            f"tuple of {n_outputs} values or change @step(outputs=...)"
        )
    return list(value)


def _params(node: Node) -> dict[str, str]:
    """The node's arguments that are not step outputs, as readable text for the run."""
    params: dict[str, str] = {}
    for name, value in node.arguments.items():
        if has_handles(value):
            continue
        if value is None or isinstance(value, bool | int | float | str):
            text = str(value)
        else:
            try:
                text = json.dumps(value, sort_keys=True, default=_type_label)
            except (TypeError, ValueError):
                text = _type_label(value)
        params[name] = text if len(text) <= _PARAM_TEXT_LIMIT else _type_label(value)
    return params


def _type_label(value: Any) -> str:
    return f"<{type(value).__name__}>"


def _park(run: Any) -> None:
    """Move a just-started run below the run that was current before it."""
    from loopml.tracking import state

    with state._lock:
        runs = state.active_runs
        if len(runs) >= 2 and runs[-1] is run:
            runs.pop()
            runs.insert(len(runs) - 1, run)
