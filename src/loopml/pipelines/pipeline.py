"""``@pipeline``: a function that wires steps together; ``.run(**params, seed=7)`` traces it,
checks the params, executes the DAG as a tracked run and returns a :class:`PipelineRun`."""

from __future__ import annotations

import functools
import inspect
import json
import time
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, overload

from loopml.errors import InvalidInput
from loopml.pipelines import graph, tracing
from loopml.pipelines.errors import PipelineFailed
from loopml.pipelines.lineage import GRAPH_ARTIFACT
from loopml.pipelines.runs import CACHED, EXECUTED, FAILED, PipelineRun
from loopml.pipelines.tracing import StepOutput

_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool}


class Pipeline:
    """A pipeline function. Calling it directly runs its steps eagerly as plain functions."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        experiment: str | None = None,
    ) -> None:
        if not callable(function):
            raise InvalidInput(f"@pipeline decorates a function, not a {type(function).__name__}")
        self.function = function
        self.name = name or function.__name__
        self.experiment = experiment
        self.signature = inspect.signature(function)
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def trace(self, **params: Any) -> tracing.Trace:
        """The DAG for these params, without running anything (for inspection and tests)."""
        return tracing.trace(self.function, self.check_params(params))[0]

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Params checked against the function's signature and simple annotations."""
        return check_params(self.name, self.function, self.signature, params)

    def run(
        self,
        /,
        *,
        seed: int = 0,
        cache: bool = True,
        experiment: str | None = None,
        runner: Any = None,
        **params: Any,
    ) -> PipelineRun:
        """Execute the pipeline as a tracked run (steps are child runs) and return the result.

        ``cache=False`` runs every step (their results still become cache entries).
        ``runner``: None (in-process), ``"processes"``/``"processes://N"`` (a local process
        pool), ``"dask://host:port"`` or a ``distributed.Client``, or a Runner object.
        Raises :class:`PipelineFailed` (carrying the PipelineRun) when a step fails.
        """
        from loopml.models.run import start_run
        from loopml.pipelines.executor import Execution
        from loopml.pipelines.runners import resolve_runner
        from loopml.tracking.seeding import check_seed

        check_seed(seed)
        if "seed" in self.signature.parameters:
            params.setdefault("seed", seed)
        params = self.check_params(params)
        runner = resolve_runner(runner)
        trace, output = tracing.trace(self.function, params)
        order = graph.topological_order(trace.nodes)
        started = time.perf_counter()
        tags = {"loopml.pipeline": self.name, "loopml.pipeline_seed": str(seed)}
        with start_run(
            experiment or self.experiment or self.name, self.name, seed=seed, tags=tags
        ) as run:
            run.log_params(_loggable(params))
            execution = Execution(trace.nodes, seed, use_cache=bool(cache))
            results = runner.run(trace.nodes, order, execution)
            steps = [results[node_id] for node_id in order]
            failed = next((r for r in steps if r.status == FAILED), None)
            result = PipelineRun(
                self.name, run.run_id, "FAILED" if failed else "FINISHED", seed, steps
            )
            if failed is None:
                result.output = tracing.replace_handles(output, execution.value_of)
            result.duration_s = time.perf_counter() - started
            run.log_metrics(
                {
                    "duration_s": result.duration_s,
                    "steps_executed": sum(r.status == EXECUTED for r in steps),
                    "steps_cached": sum(r.status == CACHED for r in steps),
                }
            )
            run.log_text(_graph_json(result, output, execution.digest_of), GRAPH_ARTIFACT)
            if failed is not None:
                run.end("FAILED", error=f"step {failed.node_id!r} failed: {failed.error}")
        if failed is not None:
            raise PipelineFailed(
                f"pipeline {self.name!r} failed at step {failed.node_id!r}: {failed.error} "
                f"(run {result.run_id}; the traceback is in step run {failed.run_id}). Fix it "
                "and run again: the steps that succeeded are cached",
                result,
                failed.node_id,
            ) from execution.errors.get(failed.node_id)
        return result


@overload
def pipeline(function: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(
    function: None = None, /, *, name: str | None = None, experiment: str | None = None
) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    experiment: str | None = None,
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Mark a function as a pipeline: ``@pipeline`` or ``@pipeline(experiment="churn")``.
    Its body calls steps; nothing runs until ``.run(...)``."""
    if function is not None:
        return Pipeline(function, name=name, experiment=experiment)
    return lambda f: Pipeline(f, name=name, experiment=experiment)


def check_params(
    name: str,
    function: Callable[..., Any],
    signature: inspect.Signature,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Unknown or missing params, and values that do not match an ``int``, ``float``, ``str``
    or ``bool`` annotation, are refused before anything runs, naming the param."""
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    accepted = [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for key in params:
        if key not in parameters and not takes_any:
            raise InvalidInput(
                f"pipeline {name!r} has no parameter {key!r}; its parameters are: "
                f"{', '.join(accepted) or 'none'}"
            )
    for key in accepted:
        parameter = parameters[key]
        if key not in params and parameter.default is inspect.Parameter.empty:
            raise InvalidInput(f"pipeline {name!r} needs the parameter {key!r}; pass {key}=...")
    hints = _hints(function)
    for key, value in params.items():
        allowed = _simple_types(hints.get(key))
        if allowed and not any(_matches(value, t) for t in allowed):
            expected = " or ".join("None" if t is type(None) else t.__name__ for t in allowed)
            raise InvalidInput(
                f"pipeline {name!r} parameter {key!r} must be {expected}, not "
                f"{type(value).__name__} {value!r}"
            )
    return dict(params)


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to plain names
        raw = getattr(function, "__annotations__", {})
        return {k: _SIMPLE.get(v, v) if isinstance(v, str) else v for k, v in raw.items()}


def _simple_types(annotation: Any) -> list[type]:
    """The accepted types when the annotation is simple (``int``, ``float | None``...);
    empty (no check) for anything richer."""
    if annotation in (int, float, str, bool):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = list(typing.get_args(annotation))
        if all(m in (int, float, str, bool, type(None)) for m in members):
            return members
    return []


def _matches(value: Any, expected: type) -> bool:
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _loggable(params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None or isinstance(value, bool | int | float | str):
            text = str(value)
        else:
            text = f"<{type(value).__name__}>"
        out[key] = text if len(text) <= 500 else f"<{type(value).__name__}>"
    return out


def _graph_json(result: PipelineRun, output: Any, digest_of: Callable[[StepOutput], str]) -> str:
    """The run's DAG with statuses and digests, stored with the pipeline run: lineage and
    ``loopml pipeline show`` read it back without re-tracing the code."""

    def describe(handle: StepOutput) -> Any:
        try:
            return {"$output": digest_of(handle), "step": handle.node_id, "index": handle.index}
        except KeyError:
            return {"$output": None, "step": handle.node_id, "index": handle.index}

    document = {
        "format": 1,
        "pipeline": result.name,
        "run_id": result.run_id,
        "status": result.status,
        "seed": result.seed,
        "steps": [step.to_dict() for step in result.steps],
        "output": tracing.replace_handles(output, describe),
    }
    return json.dumps(document, indent=1, default=lambda v: f"<{type(v).__name__}>")
