"""Where a pipeline's steps run: ``pipeline.run(runner=...)`` takes a spec and
:func:`resolve_runner` turns it into a :class:`~loopml.pipelines.executor.Runner`.

- ``None``, ``"local"``, ``"inprocess"``: one step at a time in this process (the default);
- ``"processes"`` or ``"processes://N"``: independent branches on a local pool of N worker
  processes (default one per CPU);
- ``"dask://host:port"`` or a ``distributed.Client``: on a Dask cluster;
- any object with a ``run(nodes, order, execute)`` method: used as is.

Whatever the runner, results, tracking, cache and failures are the same: the cache lookup,
the step runs and the stored outputs stay in this process, and only step calls travel.
Dask is imported only when a Dask runner is asked for.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, LoopmlError
from loopml.pipelines.executor import InProcessRunner, Runner
from loopml.pipelines.runners.process_pool import ProcessPoolRunner

if TYPE_CHECKING:
    from loopml.pipelines.runners.dask import DaskRunner

__all__ = ["DaskRunner", "InProcessRunner", "ProcessPoolRunner", "resolve_runner"]

ACCEPTED = (
    "None, 'local' or 'inprocess' (in this process), 'processes' or 'processes://N' (a local "
    "pool of N >= 1 worker processes), 'dask://host:port' or a distributed.Client (a Dask "
    "cluster), or a runner object with a run(nodes, order, execute) method"
)
_PROCESSES = re.compile(r"^processes://(\d+)$")
_DASK = re.compile(r"^dask://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def resolve_runner(spec: Any) -> Runner:
    """The runner for ``pipeline.run(runner=spec)``; anything else is refused with the
    accepted forms."""
    if spec is None:
        return InProcessRunner()
    if isinstance(spec, str):
        return _from_text(spec)
    if _is_dask_client(spec):  # checked first: a Client has a .run method of its own
        from loopml.pipelines.runners.dask import DaskRunner

        return DaskRunner(client=spec)
    if not isinstance(spec, type) and callable(getattr(spec, "run", None)):
        return spec  # type: ignore[no-any-return]
    hint = " (pass an instance, not the class)" if isinstance(spec, type) else ""
    raise InvalidInput(f"runner {spec!r} is not a runner{hint}; use {ACCEPTED}")


def _from_text(spec: str) -> Runner:
    if spec in ("local", "inprocess"):
        return InProcessRunner()
    if spec == "processes":
        return ProcessPoolRunner()
    if spec.startswith("processes:"):
        match = _PROCESSES.match(spec)
        if match is None or int(match.group(1)) < 1:
            raise InvalidInput(
                f"runner {spec!r}: the number of worker processes must be an integer >= 1, "
                f"as in 'processes://4'. Accepted runners: {ACCEPTED}"
            )
        return ProcessPoolRunner(int(match.group(1)))
    if spec.startswith("dask:"):
        match = _DASK.match(spec)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            raise InvalidInput(
                f"runner {spec!r}: give the Dask scheduler as 'dask://host:port' (for example "
                f"'dask://127.0.0.1:8786'). Accepted runners: {ACCEPTED}"
            )
        if importlib.util.find_spec("distributed") is None:
            raise LoopmlError(
                f"runner {spec!r} needs Dask, which is not installed: pip install 'loopml[dask]'"
            )
        from loopml.pipelines.runners.dask import DaskRunner

        return DaskRunner(f"tcp://{match.group(1)}:{match.group(2)}")
    raise InvalidInput(f"unknown runner {spec!r}; use {ACCEPTED}")


def _is_dask_client(obj: Any) -> bool:
    distributed = sys.modules.get("distributed")
    client = getattr(distributed, "Client", None)
    return isinstance(client, type) and isinstance(obj, client)


def __getattr__(name: str) -> Any:
    if name == "DaskRunner":
        from loopml.pipelines.runners.dask import DaskRunner

        return DaskRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
