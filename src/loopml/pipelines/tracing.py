"""Tracing: running a pipeline function with steps that record themselves instead of running.

While a trace is active (a context variable, so threads and async tasks do not mix traces),
calling a step adds a :class:`Node` to the trace and returns lazy :class:`StepOutput` handles.
Passing a handle to another step is what draws an edge of the DAG.
"""

from __future__ import annotations

import contextvars
import inspect
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.pipelines.step import Step

_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "loopml_pipeline_trace", default=None
)


class StepOutput:
    """A placeholder for a step's output while the pipeline is being traced. It has no value
    yet: pass it to other steps (or return it); its value exists once the pipeline runs."""

    __slots__ = ("index", "node_id", "step_name", "trace_id")

    def __init__(self, trace_id: str, node_id: str, step_name: str, index: int) -> None:
        self.trace_id = trace_id
        self.node_id = node_id
        self.step_name = step_name
        self.index = index

    def __repr__(self) -> str:
        return f"<StepOutput {self.node_id}[{self.index}]>"

    def _refuse(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"{what} the output of step {self.step_name!r} while the pipeline is being "
            "traced: it has no value yet. Pass it to another step, which receives the value "
            "(do the computation inside a step)."
        )

    def __bool__(self) -> bool:
        raise self._refuse("cannot test")

    def __iter__(self) -> Iterator[Any]:
        raise self._refuse("cannot unpack or iterate over (declare @step(outputs=N) for tuples)")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._refuse(f"cannot read .{name} of")

    def __getitem__(self, key: Any) -> Any:
        raise self._refuse("cannot index")


@dataclass
class Node:
    """One call of a step in the pipeline: its bound arguments may hold handles."""

    node_id: str
    step: Step
    occurrence: int
    arguments: dict[str, Any]
    n_outputs: int
    inject_seed: bool = False

    @property
    def name(self) -> str:
        return self.step.name

    def upstream(self) -> list[str]:
        """Ids of the nodes whose outputs this node reads, in argument order, once each."""
        seen: dict[str, None] = {}
        for handle in iter_handles(self.arguments):
            seen.setdefault(handle.node_id, None)
        return list(seen)


@dataclass
class Trace:
    """The nodes recorded by one tracing of a pipeline function."""

    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    nodes: dict[str, Node] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def add(
        self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepOutput | tuple[StepOutput, ...]:
        arguments = bind(step, args, kwargs)
        inject_seed = step.wants_seed and "seed" not in arguments
        for handle in iter_handles(arguments):
            self.check_handle(handle, f"step {step.name!r}")
        occurrence = self._counts.get(step.name, 0)
        self._counts[step.name] = occurrence + 1
        node_id = step.name if occurrence == 0 else f"{step.name}#{occurrence + 1}"
        self.nodes[node_id] = Node(
            node_id, step, occurrence, arguments, step.n_outputs, inject_seed
        )
        handles = tuple(
            StepOutput(self.trace_id, node_id, step.name, i) for i in range(step.n_outputs)
        )
        return handles[0] if step.n_outputs == 1 else handles

    def check_handle(self, handle: StepOutput, user: str) -> None:
        if handle.trace_id != self.trace_id or handle.node_id not in self.nodes:
            raise InvalidInput(
                f"{user} got the output of step {handle.step_name!r} from another pipeline "
                "trace (a handle kept from an earlier run or another pipeline); call the "
                "producing step inside this pipeline function instead"
            )


def bind(step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments by parameter name (defaults applied); a missing one names step and argument.
    A ``seed`` the caller did not pass is left out: the run derives and injects it."""
    signature = step.signature
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError as exc:
        raise InvalidInput(f"step {step.name!r}: {exc}") from None
    missing = [
        name
        for name, parameter in signature.parameters.items()
        if name not in bound.arguments
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and not (name == "seed" and step.wants_seed)
    ]
    if missing:
        raise InvalidInput(
            f"step {step.name!r} is missing argument {missing[0]!r}"
            + (f" (and {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
            + "; pass it where the step is called in the pipeline"
        )
    explicit = set(bound.arguments)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    if step.wants_seed and "seed" not in explicit:
        arguments.pop("seed", None)
    return arguments


def current() -> Trace | None:
    """The trace being recorded in this context, if any."""
    return _current.get()


def trace(function: Callable[..., Any], params: Mapping[str, Any]) -> tuple[Trace, Any]:
    """Run ``function(**params)`` with steps recording instead of running."""
    recorder = Trace()
    token = _current.set(recorder)
    try:
        output = function(**params)
    finally:
        _current.reset(token)
    for handle in iter_handles(output):
        recorder.check_handle(handle, "the pipeline's return value")
    return recorder, output


def iter_handles(value: Any, depth: int = 0) -> Iterator[StepOutput]:
    """Handles anywhere in nested lists, tuples, sets and dicts."""
    if isinstance(value, StepOutput):
        yield value
    elif depth < 20 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from iter_handles(item, depth + 1)
    elif depth < 20 and isinstance(value, dict):
        for item in value.values():
            yield from iter_handles(item, depth + 1)


def replace_handles(value: Any, resolve: Callable[[StepOutput], Any], depth: int = 0) -> Any:
    """A copy of ``value`` with every handle replaced by ``resolve(handle)``."""
    if isinstance(value, StepOutput):
        return resolve(value)
    if depth >= 20:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = [replace_handles(v, resolve, depth + 1) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)  # namedtuple
        return type(value)(items)
    if isinstance(value, dict):
        return {k: replace_handles(v, resolve, depth + 1) for k, v in value.items()}
    return value


def has_handles(value: Any) -> bool:
    return next(iter_handles(value), None) is not None
