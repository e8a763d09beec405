"""Find, read and validate ``loopml.yaml``."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from loopml.errors import NotFound
from loopml.project.explain import explain
from loopml.project.problems import SpecError, SpecProblem
from loopml.project.schema import ProjectSpec
from loopml.project.yaml_source import YamlSyntaxError, read_yaml

PROJECT_FILE = "loopml.yaml"


def parse_project(
    text: str, source: str = PROJECT_FILE, *, root: str | Path | None = None
) -> ProjectSpec:
    """Validate the text of a spec. ``source`` names it in messages; ``root`` is the folder
    its relative data paths start from. Raises :class:`SpecError` listing every problem."""
    try:
        document, problems = read_yaml(text)
    except YamlSyntaxError as exc:
        raise SpecError(source, [exc.problem]) from None
    data = document.data
    if data is None:
        problems.append(
            SpecProblem(1, "", "the file is empty; a project needs at least name, task and target")
        )
    elif not isinstance(data, dict):
        problems.append(
            SpecProblem(
                document.line_of(()) or 1,
                "",
                f"the file must be a mapping of keys (name: ..., task: ...), "
                f"not a {type(data).__name__}",
            )
        )
    else:
        try:
            spec = ProjectSpec.model_validate(data)
        except ValidationError as exc:
            problems.extend(explain(exc, document))
    if problems:
        raise SpecError(source, problems)
    spec._source = source
    spec._root = Path(root) if root is not None else None
    return spec


def find_project(start: str | Path | None = None) -> Path | None:
    """The nearest ``loopml.yaml`` in ``start`` (default: the current folder) or a parent,
    the way git finds its repository."""
    folder = Path(start if start is not None else os.getcwd()).resolve()
    for candidate in (folder, *folder.parents):
        spec = candidate / PROJECT_FILE
        if spec.is_file():
            return spec
    return None


def load_project(path: str | Path | None = None) -> ProjectSpec:
    """Read and validate a project spec.

    ``path`` is the spec file or its folder; ``None`` searches the current folder and its
    parents. Raises :class:`loopml.errors.NotFound` when there is no spec and
    :class:`SpecError` (an ``InvalidInput``) when it is not valid.
    """
    if path is None:
        found = find_project()
        if found is None:
            raise NotFound(
                f"no {PROJECT_FILE} in {os.getcwd()} or any folder above it; run "
                f"`loopml init NAME` to create a project, or give the spec's path."
            )
        file = found
    else:
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / PROJECT_FILE
        if not file.is_file():
            raise NotFound(
                f"project spec {str(file)!r} does not exist; run `loopml init NAME` to "
                f"create a project, or check the path."
            )
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, [SpecProblem(None, "", f"not UTF-8 text ({exc.reason})")]) from None
    return parse_project(text, source, root=file.resolve().parent)
