"""What a worker runs for one step: the step function called on decoded inputs with the step's
seed, its outputs encoded exactly as in-process (so an output that cannot be stored is refused
with the same message).

Workers touch no store: the driver looks up the cache, opens and ends the step's run and
stores its outputs. A worker needs only loopml importable and the step's code, which travels
as a :class:`FunctionRef`: a key into the functions a forked worker inherited, a
cloudpickle payload (closures, notebooks, files loaded by path), or a module and qualname.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pickle
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.pipelines.serializers import Encoded

SETUP, CALL, OUTPUT = "setup", "call", "output"  # where a task failed; only CALL is retried

# Step functions by registry token and node id, filled by the driver before it forks its
# workers: a forked worker finds any function here, even one defined inside a function.
_inherited_functions: dict[str, dict[str, Callable[..., Any]]] = {}
# Steps seed the process-wide generators (random, NumPy): one step at a time per process,
# so two steps in threads of one worker cannot draw from each other's sequence.
_call_lock = threading.Lock()
# Tracking objects a forked worker inherited; kept referenced so that no finaliser closes the
# driver's database connections from the child.
_parent_state: list[Any] = []


class RemoteStepError(Exception):
    """A step's exception that could not be sent back from the worker as itself; the message
    keeps its type and text (the traceback is in the step's run)."""


@dataclass(frozen=True)
class InputRef:
    """Stands in a task's arguments for ``StepTask.inputs[index]``."""

    index: int


@dataclass(frozen=True)
class Input:
    """An upstream output as stored: its bytes and how to decode them."""

    data: bytes
    kind: str
    trusted: bool


@dataclass(frozen=True)
class FunctionRef:
    """How a worker finds a step's function (tried in this order): the functions it
    inherited by fork, a cloudpickle payload, the module and qualname (imported, or loaded
    from ``path`` when the module is not importable there)."""

    step: str
    module: str
    qualname: str
    path: str | None = None
    inherited: tuple[str, str] | None = None
    pickled: bytes | None = None

    def resolve(self) -> Callable[..., Any]:
        if self.inherited is not None:
            token, node_id = self.inherited
            function = _inherited_functions.get(token, {}).get(node_id)
            if function is not None:
                return function
        if self.pickled is not None:
            return _unwrap(pickle.loads(self.pickled))  # noqa: S301 - sent by our driver
        if "<locals>" in self.qualname or "<lambda>" in self.qualname:
            raise LookupError(
                f"step {self.step!r} ({self.module}.{self.qualname}) is defined inside a "
                "function and this worker cannot import it; define it at module level, "
                "install cloudpickle so it is sent by value, or use a forked process pool"
            )
        obj: Any = self._module()
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return _unwrap(obj)

    def _module(self) -> Any:
        if self.module in sys.modules and self.module != "__main__":
            return sys.modules[self.module]
        if self.module != "__main__":
            try:
                return importlib.import_module(self.module)
            except ImportError:
                if not self.path:
                    raise
        if not self.path:
            raise LookupError(f"step {self.step!r}: module {self.module!r} has no file to load")
        name = "__loopml_main__" if self.module == "__main__" else self.module
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None or spec.loader is None:
            raise LookupError(f"step {self.step!r}: cannot load {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module


@dataclass
class StepTask:
    """One call of one step: everything a worker needs, all picklable."""

    node_id: str
    step: str
    function: FunctionRef
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inputs: list[Input]
    seed: int | None
    n_outputs: int
    trusted: bool


@dataclass
class TaskOutcome:
    """The encoded outputs, or the error, the phase it happened in and its traceback."""

    outputs: list[Encoded] | None = None
    error: BaseException | None = None
    phase: str | None = None
    detail: str | None = None
    log: str = ""  # what the step printed in the worker


def run_task(task: StepTask) -> TaskOutcome:
    """Decode the inputs, seed, call the step, encode its outputs. Step errors come back in
    the outcome (never raised), so the driver can tell them from a failing worker."""
    from loopml.pipelines import serializers
    from loopml.pipelines.executor import split_outputs
    from loopml.pipelines.step_logs import captured_output
    from loopml.tracking.seeding import seed_everything

    try:
        function = task.function.resolve()
        values = [serializers.decode(i.data, i.kind, trusted=i.trusted) for i in task.inputs]
        args = fill(task.args, values)
        kwargs = fill(task.kwargs, values)
    except Exception as exc:  # noqa: BLE001 - reported to the driver
        return _failure(exc, SETUP)
    with _call_lock, captured_output() as log:
        if task.seed is not None:
            seed_everything(task.seed)
        try:
            value = function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the step's own error, retried by the driver
            failure = _failure(exc, CALL)
            failure.log = log.getvalue()
            return failure
    printed = log.getvalue()
    try:
        items = split_outputs(task.step, task.n_outputs, value)
        encoded = [serializers.encode(item, step=task.step, trusted=task.trusted) for item in items]
    except Exception as exc:  # noqa: BLE001 - same refusal as in-process
        failure = _failure(exc, OUTPUT)
        failure.log = printed
        return failure
    return TaskOutcome(outputs=encoded, log=printed)


def fill(value: Any, inputs: list[Any], depth: int = 0) -> Any:
    """``value`` with every :class:`InputRef` replaced by its decoded input, containers
    rebuilt the way ``tracing.replace_handles`` rebuilds them in-process."""
    if isinstance(value, InputRef):
        return inputs[value.index]
    if depth >= 20:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = [fill(v, inputs, depth + 1) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)  # namedtuple
        return type(value)(items)
    if isinstance(value, dict):
        return {k: fill(v, inputs, depth + 1) for k, v in value.items()}
    return value


def function_ref(
    function: Callable[..., Any],
    step: str,
    *,
    inherited: tuple[str, str] | None = None,
    by_value: bool = False,
) -> FunctionRef:
    """The reference a worker resolves; ``by_value`` adds a cloudpickle payload (needs
    cloudpickle) in which the user's own modules travel by value, library modules by name."""
    module = str(getattr(function, "__module__", None) or "__main__")
    qualname = str(getattr(function, "__qualname__", None) or getattr(function, "__name__", ""))
    try:
        path: str | None = inspect.getsourcefile(function) or inspect.getfile(function)
    except (TypeError, OSError):
        path = None
    pickled = _pickle_by_value(function, module) if by_value else None
    return FunctionRef(step, module, qualname, path, inherited, pickled)


def _pickle_by_value(function: Callable[..., Any], module_name: str) -> bytes:
    import cloudpickle

    module = sys.modules.get(module_name)
    register = (
        module is not None
        and module_name != "__main__"
        and not _is_library(module_name, module)
        and module_name not in cloudpickle.list_registry_pickle_by_value()
    )
    if register:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(function)
    finally:
        if register:
            cloudpickle.unregister_pickle_by_value(module)


def _is_library(name: str, module: Any) -> bool:
    """Modules every worker has: the standard library, loopml, installed packages."""
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in ("builtins", "loopml"):
        return True
    path = getattr(module, "__file__", None)
    if not path:
        return False
    path = os.path.realpath(path)
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if any(path.startswith(os.path.realpath(root) + os.sep) for root in roots):
        return True
    return "site-packages" in path or "dist-packages" in path


def register_functions(token: str, functions: dict[str, Callable[..., Any]]) -> None:
    _inherited_functions[token] = functions


def forget_functions(token: str) -> None:
    _inherited_functions.pop(token, None)


def init_forked_worker() -> None:
    """In a worker forked from the driver: drop the driver's runs and store handles (without
    closing them: they belong to the driver) and leave Ctrl-C and SIGTERM to the driver.
    Takes no lock: another driver thread may have held one at the fork."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if "loopml.tracking.state" not in sys.modules:
        return
    from loopml.tracking import state

    _parent_state.append((state._store, state._writer, state._artifacts, list(state.active_runs)))
    state.active_runs.clear()
    state._store = state._writer = state._artifacts = None
    state._store_uri = state._artifact_uri = None


def _unwrap(obj: Any) -> Callable[..., Any]:
    """A module-level ``@step`` is a Step object: call the function it wraps."""
    from loopml.pipelines.step import Step

    return obj.function if isinstance(obj, Step) else obj


def _failure(exc: Exception, phase: str) -> TaskOutcome:
    return TaskOutcome(error=_portable(exc), phase=phase, detail=traceback.format_exc())


def _portable(exc: Exception) -> BaseException:
    """The exception itself when it survives pickling, else a stand-in with its text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - any pickling problem: send a stand-in
        return RemoteStepError(f"{type(exc).__name__}: {exc}")
    return exc
