"""``@step``: a function that is a plain function outside a pipeline and a DAG node inside one.

The decorator records how the step is run (cache, version, retries, timeout, trusted pickle,
number of outputs); tracing and execution read those settings from the :class:`Step`.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from loopml.errors import InvalidInput
from loopml.pipelines import tracing


class Step:
    """A step function with its run settings. Call it like the function it wraps."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        version: str | int = "",
        retries: int = 0,
        timeout: float | None = None,
        trusted: bool = False,
        outputs: int | None = None,
        backoff: float = 1.0,
    ) -> None:
        if not callable(function):
            raise InvalidInput(f"@step decorates a function, not a {type(function).__name__}")
        _check_settings(retries, timeout, outputs, backoff)
        self.function = function
        self.name = name or function.__name__
        self.cache = bool(cache)
        self.version = str(version)
        self.retries = retries
        self.timeout = timeout
        self.trusted = bool(trusted)
        self.backoff = backoff
        self.signature = inspect.signature(function)
        self.wants_seed = "seed" in self.signature.parameters
        self.n_outputs = outputs if outputs is not None else _outputs_from_annotation(function)
        functools.update_wrapper(self, function)

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trace = tracing.current()
        if trace is None:
            return self.function(*args, **kwargs)
        return trace.add(self, args, kwargs)


@overload
def step(function: Callable[..., Any], /) -> Step: ...
@overload
def step(
    function: None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    version: str | int = "",
    retries: int = 0,
    timeout: float | None = None,
    trusted: bool = False,
    outputs: int | None = None,
    backoff: float = 1.0,
) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    version: str | int = "",
    retries: int = 0,
    timeout: float | None = None,
    trusted: bool = False,
    outputs: int | None = None,
    backoff: float = 1.0,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Mark a function as a pipeline step: ``@step`` or ``@step(cache=False, retries=2)``.

    ``version`` is bumped by hand to invalidate the cache when something the code hash cannot
    see changed (a data file, a library); ``retries`` re-runs a failing step with exponential
    backoff (``backoff`` seconds, doubled each time); ``timeout`` (seconds) fails a step that
    runs too long; ``trusted=True`` allows pickle for outputs no safe format can hold;
    ``outputs=N`` (or a ``-> tuple[A, B]`` annotation) lets callers unpack ``a, b = s(x)``.
    """
    settings = {
        "name": name,
        "cache": cache,
        "version": version,
        "retries": retries,
        "timeout": timeout,
        "trusted": trusted,
        "outputs": outputs,
        "backoff": backoff,
    }
    if function is not None:
        return Step(function, **settings)  # type: ignore[arg-type]
    return lambda f: Step(f, **settings)  # type: ignore[arg-type]


def _check_settings(
    retries: int, timeout: float | None, outputs: int | None, backoff: float
) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidInput(f"@step(retries=...) must be an integer >= 0, not {retries!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise InvalidInput(f"@step(timeout=...) must be a number of seconds > 0, not {timeout!r}")
    if outputs is not None and (
        isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1
    ):
        raise InvalidInput(f"@step(outputs=...) must be an integer >= 1, not {outputs!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise InvalidInput(f"@step(backoff=...) must be seconds >= 0, not {backoff!r}")


def _outputs_from_annotation(function: Callable[..., Any]) -> int:
    """``-> tuple[A, B]`` means two outputs; ``tuple[A, ...]`` or anything else means one."""
    try:
        returned = typing.get_type_hints(function).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations: assume a single output
        return 1
    if typing.get_origin(returned) is tuple:
        args = typing.get_args(returned)
        if args and Ellipsis not in args and args != ((),):
            return len(args)
    return 1
