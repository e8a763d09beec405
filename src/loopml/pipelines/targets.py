"""Find a pipeline by reference: ``path/to/file.py:training`` (or ``package.module:training``).

Used by the CLI and the scheduler. Loading a file runs it, as ``python file.py`` would, so
only reference files you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput, NotFound

_ATTR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split_target(target: str) -> tuple[str, str]:
    """``file.py:name`` -> (``file.py``, ``name``), checked for form only."""
    if not isinstance(target, str) or ":" not in target:
        raise InvalidInput(
            f"pipeline reference {target!r} must look like 'path/to/file.py:pipeline_name'."
        )
    location, _, attribute = target.rpartition(":")
    if not location or not _ATTR_RE.match(attribute):
        raise InvalidInput(
            f"pipeline reference {target!r}: {attribute!r} is not a Python name; "
            "write 'path/to/file.py:pipeline_name'."
        )
    return location, attribute


def check_target(target: str) -> str:
    """Form and file existence, without running the file."""
    location, _ = split_target(target)
    if location.endswith(".py") and not Path(location).is_file():
        raise NotFound(f"pipeline file {location!r} does not exist.")
    return target


def load_target(target: str) -> Any:
    """Import the file or module and return the named object (a pipeline)."""
    location, attribute = split_target(target)
    module = _load_module(location)
    if not hasattr(module, attribute):
        names = [n for n in vars(module) if not n.startswith("_")]
        raise NotFound(
            f"{location} has no {attribute!r}; it defines: {', '.join(sorted(names)[:20])}."
        )
    obj = getattr(module, attribute)
    if not callable(getattr(obj, "run", None)):
        raise InvalidInput(
            f"{target} is a {type(obj).__name__}, not a pipeline: decorate it with @ml.pipeline."
        )
    return obj


def _load_module(location: str) -> Any:
    if not location.endswith(".py"):
        return importlib.import_module(location)
    path = Path(location).resolve()
    if not path.is_file():
        raise NotFound(f"pipeline file {location!r} does not exist.")
    name = f"loopml_pipeline_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the file's own imports of sibling modules work
    spec.loader.exec_module(module)
    return module
