"""Cache keys and lookup: a step is skipped when an earlier successful execution had the same
key. The key covers everything that decides the output: the step's code (and the project
functions it calls), its parameters, the digests of its inputs, its seed and its version.

Keys live as the tag ``loopml.cache_key`` on step runs, so the store is the cache index and
the artifact store holds the values: nothing else to keep in sync.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.pipelines import serializers
from loopml.pipelines.tracing import StepOutput

if TYPE_CHECKING:
    from loopml.pipelines.step import Step

KEY_FORMAT = 1  # bump when the key's recipe changes, so old entries stop matching
_DEF_LINE = re.compile(r"^\s*(async\s+)?(def|class)\s")


class Uncacheable(Exception):
    """An argument has no stable digest (for example an arbitrary object): run, do not cache."""


@dataclass(frozen=True)
class CachedOutputs:
    """An earlier successful execution: its run and its outputs (path, sha256, size)."""

    run_id: str
    outputs: list[tuple[str, str, int]]


def code_hash(function: Callable[..., Any]) -> str:
    """sha256 of the function's normalised source plus the source of the project functions it
    refers to by name (one level deep). Library code is left out: bump ``version`` for it."""
    parts = [_source(function)]
    for name, callee in sorted(_project_callees(function).items()):
        parts.append(f"{name}\n{_source(callee)}")
    return hashlib.sha256("\n\x00".join(parts).encode()).hexdigest()


def cache_key(
    step: Step,
    code: str,
    arguments: Mapping[str, Any],
    digest_of: Callable[[StepOutput], str],
    seed: int | None,
) -> str:
    """The key of one execution; raises :class:`Uncacheable` for arguments without a digest."""
    material = {
        "format": KEY_FORMAT,
        "step": step.name,
        "code": code,
        "version": step.version,
        "outputs": step.n_outputs,
        "seed": seed,
        "arguments": {k: _canonical(v, digest_of, step.name) for k, v in arguments.items()},
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(key: str, n_outputs: int) -> CachedOutputs | None:
    """The latest FINISHED step run with this key whose output blobs are all still stored."""
    from loopml.tracking import state

    store = state.get_store()
    artifacts = state.get_artifacts()
    for info in store.find_runs_by_tag("loopml.cache_key", key, limit=5):
        outputs = sorted(
            (
                (a.path, a.sha256, a.size)
                for a in store.list_artifacts(info.run_id)
                if a.path.startswith("outputs/")
            ),
            key=lambda item: _output_index(item[0]),
        )
        if len(outputs) == n_outputs and all(artifacts.exists(sha) for _, sha, _ in outputs):
            return CachedOutputs(info.run_id, outputs)
    return None


def _output_index(path: str) -> int:
    name = path.removeprefix("outputs/").split(".", 1)[0]
    return int(name) if name.isdigit() else -1


def _canonical(value: Any, digest_of: Callable[[StepOutput], str], step: str) -> Any:
    """A JSON-able, order-stable stand-in: handles become their digest, frames and other
    storable values their content digest."""
    if isinstance(value, StepOutput):
        return {"$output": digest_of(value)}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_canonical(v, digest_of, step) for v in value]
    if type(value) is tuple:
        return {"$tuple": [_canonical(v, digest_of, step) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"$dict": {k: _canonical(v, digest_of, step) for k, v in value.items()}}
    try:
        encoded = serializers.encode(value, step=step)
    except InvalidInput:
        raise Uncacheable(type(value).__name__) from None
    return {"$blob": hashlib.sha256(encoded.data).hexdigest(), "kind": encoded.kind}


def _source(obj: Any) -> str:
    """Source without decorators, blank lines, comment lines or trailing spaces: editing a
    comment or ``@step(retries=...)`` does not change what the step computes."""
    target = getattr(obj, "function", obj)  # a Step: hash the function it wraps
    try:
        lines = inspect.getsource(target).splitlines()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is None:
            return repr(target)
        return code.co_code.hex() + repr(code.co_consts) + repr(code.co_names)
    start = next((i for i, line in enumerate(lines) if _DEF_LINE.match(line)), 0)
    kept = [line.rstrip() for line in lines[start:]]
    return "\n".join(line for line in kept if line.strip() and not line.strip().startswith("#"))


def _project_callees(function: Callable[..., Any]) -> dict[str, Any]:
    """Functions, classes and steps the function names that belong to the user's project:
    its own module, or a file outside site-packages and the standard library."""
    target = getattr(function, "function", function)
    code = getattr(target, "__code__", None)
    namespace = getattr(target, "__globals__", {})
    if code is None:
        return {}
    found: dict[str, Any] = {}
    for name in _names(code):
        candidate = namespace.get(name)
        inner = getattr(candidate, "function", candidate)
        if inner is target or not (inspect.isfunction(inner) or inspect.isclass(inner)):
            continue
        if _is_project(inner, target.__module__):
            found[name] = inner
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _is_project(obj: Any, home_module: str) -> bool:
    module = getattr(obj, "__module__", None)
    if module == home_module:
        return True
    top = (module or "").split(".")[0]
    if not top or top in sys.stdlib_module_names or top in ("builtins", "loopml"):
        return False
    try:
        path = os.path.realpath(inspect.getfile(obj))
    except (TypeError, OSError):
        return False
    library_roots = {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
    if any(path.startswith(os.path.realpath(root) + os.sep) for root in library_roots):
        return False
    return "site-packages" not in path and "dist-packages" not in path
