"""``loopml pipeline convert``: a notebook's cells tagged ``step`` become a pipeline module.

Each tagged cell becomes one ``@ml.step`` function: its inputs are the variables it reads that
earlier cells defined, its outputs the variables it defines that later cells read. Imports of
every cell, and functions and classes of untagged cells, move to the top of the module; the
literal assignments of a cell tagged ``parameters`` (papermill's convention) become the
pipeline's parameters. Every other untagged cell is dropped and reported; one that defines a
variable a step needs stops the conversion, because the pipeline would be broken.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import keyword
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.pipelines import notebook_analysis as na

STEP_TAG = "step"
PARAMETER_TAGS = frozenset({"parameters", "injected-parameters"})
RESERVED_PARAMETERS = frozenset({"cache", "experiment", "runner"})  # keywords of Pipeline.run
_HEADER_RE = re.compile(r"^#\s*(step|outputs)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_SEED_CALLS = ("random.seed", "manual_seed", "set_seed", "seed_everything")
_WRITE_METHODS = frozenset(
    str.split(
        "to_csv to_parquet to_excel to_json to_pickle to_sql to_html savefig save dump "
        "write write_text write_bytes"
    )
)
_LINE = 99


@dataclass(frozen=True)
class StepPlan:
    """One generated step: the cell it came from (1-based, markdown cells counted)."""

    name: str
    cell: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class DroppedCell:
    """An untagged cell left out of the pipeline, and why that may matter."""

    cell: int
    first_line: str
    reason: str


@dataclass
class ConversionReport:
    """What ``convert_notebook`` generated and what it left out. ``source`` is the module."""

    notebook: str
    pipeline: str
    steps: list[StepPlan]
    parameters: dict[str, Any]
    returns: list[str]
    hoisted: list[str]
    dropped: list[DroppedCell]
    notes: list[str]
    warnings: list[str]
    source: str
    output: str | None = None

    @property
    def target(self) -> str:
        """What ``loopml pipeline run`` takes: ``analysis_pipeline.py:analysis``."""
        return f"{self.output or '<module>.py'}:{self.pipeline}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = self.target
        data.pop("source")
        return data

    def render(self) -> str:
        """A summary for people: steps with their wiring, then what was dropped and why."""
        where = f"wrote {self.output}" if self.output else f"converted {self.notebook}"
        lines = [f"{where}: pipeline {self.pipeline!r}, {len(self.steps)} steps"]
        for s in self.steps:
            lines.append(
                f"  {s.name} (cell {s.cell}): ({', '.join(s.inputs)}) -> "
                f"{', '.join(s.outputs) or 'nothing'}"
            )
        if self.parameters:
            params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
            lines.append(f"parameters: {params}")
        lines.append(f"returns: {', '.join(self.returns) or 'nothing'}")
        if self.dropped:
            lines.append("dropped cells (not part of the pipeline):")
            lines += [f"  cell {d.cell} `{d.first_line}`: {d.reason}" for d in self.dropped]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(f"run it: loopml pipeline run {self.target}{_example(self.parameters)}")
        return "\n".join(lines)


def convert_notebook(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    pipeline_name: str | None = None,
    overwrite: bool = False,
    trusted: bool = False,
) -> ConversionReport:
    """Write the pipeline module of a notebook (default ``<notebook>_pipeline.py`` beside it).

    ``trusted=True`` lets steps pickle outputs no safe format can hold (see ``@ml.step``).
    Refuses to replace an existing file unless ``overwrite=True``.
    """
    notebook_path = Path(path)
    if not notebook_path.is_file():
        raise NotFound(f"notebook {str(notebook_path)!r} does not exist.")
    target = (
        Path(output)
        if output is not None
        else notebook_path.with_name(f"{notebook_path.stem}_pipeline.py")
    )
    if target.suffix != ".py":
        raise InvalidInput(
            f"output {str(target)!r} must be a .py file: `loopml pipeline run` loads a module."
        )
    if target.resolve() == notebook_path.resolve():
        raise InvalidInput("the output would overwrite the notebook; choose another --output.")
    if target.exists() and not overwrite:
        raise Conflict(
            f"{str(target)!r} already exists; pass --force (overwrite=True) to replace it."
        )
    notebook = read_notebook(notebook_path)
    report = notebook_to_pipeline(
        notebook,
        name=pipeline_name,
        label=notebook_path.name,
        module=str(target),
        trusted=trusted,
    )
    report.output = str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(report.source)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return report


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook's JSON, checked for a list of cells; errors name the file."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not a notebook: it is not UTF-8 text ({exc}).") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path} is not a notebook: not valid JSON ({exc.msg} at line {exc.lineno}). "
            "Open and save it in Jupyter, or check it is an .ipynb file."
        ) from None
    if isinstance(notebook, dict) and "worksheets" in notebook and "cells" not in notebook:
        raise InvalidInput(
            f"{path} is an nbformat 3 notebook; open and save it in Jupyter to upgrade it to "
            "nbformat 4, then convert it."
        )
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidInput(f"{path} is not a notebook: it has no list of 'cells'.")
    return notebook


@dataclass
class _Cell:
    number: int  # 1-based, every cell counted
    kind: str  # "step", "parameters" or "plain"
    code: str
    tree: ast.Module
    first_line: str
    name: str | None = None
    outputs_hint: list[str] | None = None
    hoisted: list[ast.stmt] = field(default_factory=list)
    rest: list[ast.stmt] = field(default_factory=list)
    names: na.CellNames = field(default_factory=na.CellNames)


@dataclass
class _Step:
    cell: _Cell
    inputs: list[str]
    candidates: list[str]
    outputs: list[str] = field(default_factory=list)
    name: str = ""


def notebook_to_pipeline(
    notebook: dict[str, Any],
    *,
    name: str | None = None,
    label: str = "notebook.ipynb",
    module: str = "pipeline.py",
    trusted: bool = False,
) -> ConversionReport:
    """The pipeline module for a parsed notebook (nothing written): ``report.source``.
    ``name`` defaults to the notebook's file name (``label``)."""
    if name is not None:
        _check_identifier(name, "pipeline name")
    _check_language(notebook, label)
    notes: list[str] = []
    warnings: list[str] = []
    dropped: list[DroppedCell] = []
    cells = _read_cells(notebook, label, notes, dropped)
    if not any(c.kind == "step" for c in cells):
        raise InvalidInput(
            f"{label} has no cells tagged {STEP_TAG!r}: add the tag {STEP_TAG!r} to each cell "
            "that should become a step (JupyterLab: property inspector > Cell Tags; VS Code: "
            "'Add Cell Tag'), then convert again."
        )
    imports, definitions, module_names = _hoist(cells, warnings)
    parameters, annotations = _parameters(cells)
    steps, missing = _wire(cells, module_names, warnings)
    returns = _assign_outputs(steps, warnings)
    if name is None:
        name = _name_from_file(Path(label).stem)
        if name in module_names:
            name = f"{name}_pipeline"
    if name in module_names:
        raise InvalidInput(
            f"pipeline name {name!r} is also an import, function or class of the notebook; "
            "pass another --name."
        )
    taken = set(parameters) | module_names | {name}
    for cell in cells:
        taken.update(cell.names.defines, cell.names.reads)
    _name_steps(steps, taken, label)
    for step in steps:
        if not step.outputs:
            defined = step.cell.names.defines
            warnings.append(
                f"step `{step.name}` (cell {step.cell.number}) has no outputs: "
                + (
                    f"nothing after it reads what it defines ({_names(defined)}), so its "
                    "results are lost; add `# outputs: name` to return them"
                    if defined
                    else "it defines no variables and runs only for its side effects"
                )
            )
    dropped += _report_plain_cells(cells, steps, missing, label)
    dropped.sort(key=lambda d: d.cell)
    if "seed" in parameters:
        notes.append(
            f"parameter `seed` is the pipeline run's seed: run with --seed {parameters['seed']!r} "
            "to use the notebook's value (the run's default seed is 0)"
        )
    for param, value in parameters.items():
        if not any(param in s.inputs for s in steps):
            notes.append(f"parameter {param}={value!r} is not read by any step")
    alias = next(a for a in ("ml", "loopml", "_loopml") if a not in taken)
    source = _render(
        _Module(
            label,
            module,
            name,
            alias,
            imports,
            definitions,
            steps,
            parameters,
            annotations,
            returns,
            trusted,
        )
    )
    try:
        compile(source, module, "exec")
    except SyntaxError as exc:  # pragma: no cover - a bug of the converter, not the notebook
        raise InvalidInput(f"the generated module does not compile ({exc}); please report") from exc
    plans = [StepPlan(s.name, s.cell.number, tuple(s.inputs), tuple(s.outputs)) for s in steps]
    hoisted = [n for _, stmt in [*imports, *definitions] for n in na.bound_names(stmt)]
    return ConversionReport(
        label,
        name,
        plans,
        parameters,
        returns,
        hoisted,
        dropped,
        list(dict.fromkeys(notes)),
        list(dict.fromkeys(warnings)),
        source,
    )


# -- reading cells ------------------------------------------------------------------------
def _check_language(notebook: dict[str, Any], label: str) -> None:
    metadata: dict[str, Any] = notebook.get("metadata") or {}
    if not isinstance(metadata, dict):
        return
    language = (metadata.get("kernelspec") or {}).get("language") or (
        metadata.get("language_info") or {}
    ).get("name")
    if isinstance(language, str) and language.lower() not in ("python", "python3", "ipython"):
        raise InvalidInput(f"{label} is a {language} notebook; only Python notebooks convert.")


def _tags(cell: dict[str, Any]) -> list[str]:
    metadata: dict[str, Any] = cell.get("metadata") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    holders = [cell, metadata, metadata.get("metadata"), metadata.get("jupyter")]
    found: list[str] = []
    for holder in holders:
        tags = holder.get("tags") if isinstance(holder, dict) else None
        if isinstance(tags, str):
            tags = tags.split(",")
        if isinstance(tags, list):
            found += [t.strip() for t in tags if isinstance(t, str)]
    return found


def _read_cells(
    notebook: dict[str, Any], label: str, notes: list[str], dropped: list[DroppedCell]
) -> list[_Cell]:
    cells: list[_Cell] = []
    for number, raw in enumerate(notebook["cells"], start=1):
        if not isinstance(raw, dict):
            raise InvalidInput(f"{label}: cell {number} is not an object.")
        if raw.get("cell_type") != "code":
            continue
        text = raw.get("source", "")
        if isinstance(text, list) and all(isinstance(t, str) for t in text):
            text = "".join(text)
        if not isinstance(text, str):
            raise InvalidInput(f"{label}: the source of cell {number} is not text.")
        if not text.strip():
            continue
        tags = _tags(raw)
        step_name = next((t[5:].strip() for t in tags if t[:5] in ("step:", "step=")), None)
        if PARAMETER_TAGS & set(tags):
            kind = "parameters"
            if STEP_TAG in tags or step_name:
                notes.append(
                    f"cell {number} is tagged both parameters and step: read as parameters"
                )
        else:
            kind = "step" if STEP_TAG in tags or step_name else "plain"
        code, magics, not_python = na.strip_magics(text)
        first = na.first_line(text)
        for magic in magics:
            notes.append(f"cell {number}: stripped IPython magic `{na.first_line(magic)}`")
        if not_python:
            if kind != "plain":
                raise InvalidInput(
                    f"{label}: cell {number} (`{first}`) is tagged {kind} but is a "
                    f"`{magics[0].split()[0]}` cell, not Python."
                )
            dropped.append(DroppedCell(number, first, "a cell magic, not Python: not converted"))
            continue
        code, header = _read_header(code)
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            if kind != "plain":
                raise InvalidInput(
                    f"{label}: cell {number} (`{first}`) does not parse: {exc.msg} at line "
                    f"{exc.lineno}."
                ) from None
            dropped.append(DroppedCell(number, first, f"does not parse ({exc.msg})"))
            continue
        cell = _Cell(number, kind, code, tree, first)
        cell.name = header.get("step") or step_name
        if "outputs" in header:
            cell.outputs_hint = [n.strip() for n in header["outputs"].split(",") if n.strip()]
        if kind != "step" and header:
            notes.append(f"cell {number}: `# step:`/`# outputs:` ignored, the cell is not a step")
        cells.append(cell)
    return cells


def _read_header(code: str) -> tuple[str, dict[str, str]]:
    """``# step: name`` and ``# outputs: a, b`` in the cell's leading comments, removed."""
    lines = code.splitlines()
    header: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        match = _HEADER_RE.match(line.strip())
        if match:
            header[match.group(1).lower()] = match.group(2)
            lines[i] = ""
    return "\n".join(lines), header


# -- hoisting -----------------------------------------------------------------------------
_Hoisted = tuple[_Cell, ast.stmt]
_DEFINITIONS = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _hoist(
    cells: list[_Cell], warnings: list[str]
) -> tuple[list[_Hoisted], list[_Hoisted], set[str]]:
    """Imports of every cell; functions and classes of untagged cells, and of tagged cells
    when they only use module-level names. Returns (imports, definitions, module names)."""
    imports: list[_Hoisted] = []
    candidates: list[_Hoisted] = []
    for cell in cells:
        for stmt in cell.tree.body:
            if na.is_import_only(stmt):
                imports.append((cell, stmt))
            elif isinstance(stmt, _DEFINITIONS):
                candidates.append((cell, stmt))
    module_names = {n for _, s in imports for n in na.bound_names(s)}
    module_names |= {n for _, s in candidates for n in na.bound_names(s)}
    known = module_names | na.BUILTINS
    changed = True
    while changed:  # a tagged cell's def stays in its step when it needs the cell's variables
        changed = False
        for cell, stmt in list(candidates):
            if cell.kind == "step" and not na.free_names(stmt) <= known:
                candidates = [(c, s) for c, s in candidates if s is not stmt]
                known -= set(na.bound_names(stmt))
                module_names -= set(na.bound_names(stmt))
                changed = True
    for cell, stmt in candidates:
        unknown = sorted(na.free_names(stmt) - known)
        if unknown:
            warnings.append(
                f"`{na.bound_names(stmt)[0]}` (cell {cell.number}) moves to module level but "
                f"reads {_names(unknown)}, defined by notebook cells: calling it will fail "
                "with NameError; pass them as arguments instead"
            )
    for cell, stmt in imports:
        if any(alias.name == "*" for alias in getattr(stmt, "names", [])):
            warnings.append(
                f"cell {cell.number} uses `import *`: the names it brings cannot be traced "
                "(steps reading them may be wired wrong); import them by name"
            )
    for cell, stmt in [*imports, *candidates]:
        cell.hoisted.append(stmt)
    for cell in cells:
        cell.rest = [s for s in cell.tree.body if not any(s is h for h in cell.hoisted)]
    return _dedupe_imports(imports), _dedupe_definitions(candidates, warnings), module_names


def _dedupe_imports(imports: list[_Hoisted]) -> list[_Hoisted]:
    future = [
        (c, s) for c, s in imports if isinstance(s, ast.ImportFrom) and s.module == "__future__"
    ]
    others = [(c, s) for c, s in imports if not any(s is f for _, f in future)]
    seen: set[str] = set()
    kept: list[_Hoisted] = []
    for cell, stmt in [*future, *others]:
        key = ast.dump(stmt)
        if key not in seen:
            seen.add(key)
            kept.append((cell, stmt))
    return kept


def _dedupe_definitions(definitions: list[_Hoisted], warnings: list[str]) -> list[_Hoisted]:
    kept: list[_Hoisted] = []
    seen: dict[str, str] = {}
    for cell, stmt in definitions:
        name, dump = na.bound_names(stmt)[0], ast.dump(stmt)
        if seen.get(name) == dump:
            continue
        if name in seen:
            warnings.append(
                f"`{name}` is defined twice with different code; the module keeps both and the "
                f"later one (cell {cell.number}) wins for every step"
            )
        seen[name] = dump
        kept.append((cell, stmt))
    return kept


# -- parameters ---------------------------------------------------------------------------
def _parameters(cells: list[_Cell]) -> tuple[dict[str, Any], dict[str, str]]:
    """Literal assignments of ``parameters`` cells: name -> default, name -> annotation."""
    values: dict[str, Any] = {}
    annotations: dict[str, str] = {}
    for cell in cells:
        if cell.kind != "parameters":
            continue
        names: list[str] = []
        for stmt in cell.rest:
            assigned = _literal_assignment(stmt)
            if assigned is None:
                raise InvalidInput(
                    f"cell {cell.number} is tagged parameters but `{_segment(cell, stmt)}` is "
                    "not a literal assignment (name = number, string, bool, None, list or "
                    "dict); move it to another cell"
                )
            for target, value, annotation in assigned:
                if target in RESERVED_PARAMETERS:
                    raise InvalidInput(
                        f"parameter {target!r} (cell {cell.number}) clashes with pipeline.run"
                        f"({target}=...); rename it"
                    )
                values[target] = value
                names.append(target)
                simple = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value))
                if annotation == "float" and simple == "int":
                    simple = "float"
                if simple:
                    annotations[target] = simple
                else:
                    annotations.pop(target, None)
        cell.names = na.CellNames(defines=names, definite=set(names))
    return values, annotations


def _literal_assignment(stmt: ast.stmt) -> list[tuple[str, Any, str | None]] | None:
    """``[(name, value, annotation)]`` of ``C = 0.5``, ``n: int = 3`` or ``a, b = 1, 2``."""
    annotation = None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
        annotation = stmt.annotation.id if isinstance(stmt.annotation, ast.Name) else None
    else:
        return None
    pairs: list[tuple[ast.expr, ast.expr]] = [(target, value)]
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        if len(target.elts) != len(value.elts):
            return None
        pairs = list(zip(target.elts, value.elts, strict=True))
    try:
        found = [(t.id, ast.literal_eval(v), annotation) for t, v in pairs]  # type: ignore[attr-defined]
    except (AttributeError, ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return found if all(isinstance(t, ast.Name) for t, _ in pairs) else None


# -- wiring -------------------------------------------------------------------------------
@dataclass
class _Missing:
    """A step reads ``name`` whose latest definition is an untagged cell."""

    name: str
    cell: _Cell
    reader: _Step
    how: str  # "defines" or "modifies"


def _wire(
    cells: list[_Cell], module_names: set[str], warnings: list[str]
) -> tuple[list[_Step], list[_Missing]]:
    """Steps with their inputs, following which cell last defined each name. A step's
    ``outputs`` collect, for now, the names later cells read from it."""
    definer: dict[str, tuple[str, Any]] = {}  # name -> ("param", cell) | ("step", step) | ...
    steps: list[_Step] = []
    missing: list[_Missing] = []
    for cell in cells:
        if cell.kind == "parameters":
            for param in cell.names.defines:
                definer[param] = ("param", cell)
            continue
        cell.names = names = na.analyze(cell.rest, cell.code)
        if cell.kind == "plain":
            for name in names.reads:
                _mark_read(definer.get(name), name)
            for name in names.defines:
                definer[name] = ("plain", cell)
            for name in names.modifies:
                if name in definer:
                    definer[name] = ("plain", cell)
            for name in names.deleted:
                definer.pop(name, None)
            continue
        step = _Step(cell, [], [])
        maybe_bound = [n for n in names.defines if n not in names.definite and n in definer]
        for name in [*names.reads, *(n for n in maybe_bound if n not in names.reads)]:
            source = definer.get(name)
            if source is None:
                if name not in module_names and name not in na.BUILTINS:
                    ipython = " (an IPython name: it does not exist outside Jupyter)"
                    warnings.append(
                        f"cell {cell.number} reads `{name}`, which no earlier cell defines"
                        + (ipython if name in na.IPYTHON_NAMES else "")
                    )
                continue
            if source[0] == "plain":
                if name in names.reads and name not in names.soft_reads:
                    how = "modifies" if name in source[1].names.modifies else "defines"
                    missing.append(_Missing(name, source[1], step, how))
                else:
                    warnings.append(
                        f"cell {cell.number} keeps the value untagged cell {source[1].number} "
                        f"gave `{name}` on paths that do not assign it (an `if`, an empty "
                        "loop); tag that cell as a step if that matters"
                    )
                continue
            _mark_read(source, name)
            step.inputs.append(name)
        changed = [n for n in [*names.modifies, *names.may_modify] if n in step.inputs]
        step.candidates = list(dict.fromkeys([*names.defines, *changed]))
        for name in step.candidates:
            definer[name] = ("step", step)
        for name in names.deleted:
            definer.pop(name, None)
        steps.append(step)
    return steps, missing


def _mark_read(source: tuple[str, Any] | None, name: str) -> None:
    if source is not None and source[0] == "step":
        source[1].outputs.append(name)  # provisional: "read later"; _assign_outputs decides


def _assign_outputs(steps: list[_Step], warnings: list[str]) -> list[str]:
    """Outputs: candidates a later cell reads, plus ``# outputs:``; the last step returns
    everything it defines. Returns the pipeline's final variables: outputs no later step
    consumes (the latest definition of a name wins)."""
    consumed: set[tuple[int, str]] = set()
    last_definer: dict[str, _Step] = {}
    for step in steps:
        for name in step.inputs:
            owner = last_definer.get(name)
            if owner is not None:
                consumed.add((owner.cell.number, name))
        for name in step.candidates:
            last_definer[name] = step
    for index, step in enumerate(steps):
        read_later = set(step.outputs)
        hint = step.cell.outputs_hint
        if hint is not None:
            unknown = [n for n in hint if n not in step.candidates and n not in step.inputs]
            if unknown:
                raise InvalidInput(
                    f"cell {step.cell.number}: `# outputs:` names {_names(unknown)}, which the "
                    "cell neither defines nor reads"
                )
        last = index == len(steps) - 1
        auto = [n for n in step.candidates if not n.startswith("_")] if last and not hint else []
        keep = read_later | set(auto) | set(hint or [])
        chosen = [n for n in step.candidates if n in keep] + list(hint or [])
        step.outputs = list(dict.fromkeys(chosen))
        local_defs = {
            n for s in step.cell.rest if isinstance(s, _DEFINITIONS) for n in na.bound_names(s)
        }
        if local_defs & set(step.outputs):
            warnings.append(
                f"cell {step.cell.number} defines {_names(sorted(local_defs & set(step.outputs)))}"
                " that later cells use, but it reads the cell's variables so it stays inside the "
                "step and cannot be passed on: give it those values as arguments"
            )
    returns: dict[str, None] = {}
    for step in steps:
        for name in step.outputs:
            if (step.cell.number, name) not in consumed:
                returns.pop(name, None)
                returns[name] = None
    return list(returns)


def _name_steps(steps: list[_Step], taken: set[str], label: str) -> None:
    """``# step: name`` when given; else ``compute_<first output>`` or ``step_<n>``."""
    used: set[str] = set()
    for number, step in enumerate(steps, start=1):
        explicit = step.cell.name
        if explicit:
            _check_identifier(explicit, f"step name of cell {step.cell.number}")
            if explicit in taken or explicit in used or explicit in na.BUILTINS:
                raise InvalidInput(
                    f"{label}: step name {explicit!r} (cell {step.cell.number}) is already a "
                    "name in the notebook or another step; choose another `# step:` name"
                )
            step.name = explicit
        else:
            base = f"compute_{step.outputs[0]}" if step.outputs else f"step_{number}"
            step.name, suffix = base, 2
            while step.name in taken or step.name in used or step.name in na.BUILTINS:
                step.name, suffix = f"{base}_{suffix}", suffix + 1
        used.add(step.name)


def _report_plain_cells(
    cells: list[_Cell], steps: list[_Step], missing: list[_Missing], label: str
) -> list[DroppedCell]:
    """Every untagged cell with statements left after hoisting is reported; one that a step
    depends on fails the conversion."""
    if missing:
        problems = {
            (m.name, m.cell.number, m.reader.cell.number): (
                f"cell {m.cell.number} (`{m.cell.first_line}`) is not tagged {STEP_TAG!r} but "
                f"{m.how} `{m.name}`, which step `{m.reader.name}` (cell "
                f"{m.reader.cell.number}) reads"
            )
            for m in missing
        }
        raise InvalidInput(
            f"{label}: the pipeline would be broken: "
            + "; ".join(problems.values())
            + ". Tag those cells as steps (or `parameters` for literal settings), or move "
            "the assignments into tagged cells."
        )
    dropped: list[DroppedCell] = []
    for cell in cells:
        if cell.kind != "plain" or not cell.rest:
            continue
        later = [s for s in steps if s.cell.number > cell.number]
        readers = {n: s for s in reversed(later) for n in s.inputs}
        reasons = [r for stmt in cell.rest for r in _why(cell, stmt)]
        unread = [n for n in cell.names.defines if n not in readers]
        if unread:
            reasons.append(f"assigns {_names(unread)}, which no step reads")
        for name, code in cell.names.may_modify.items():
            if name in readers:
                reasons.append(
                    f"may change `{name}` in place (`{code}`), which step "
                    f"`{readers[name].name}` reads: if it does, tag this cell as a step"
                )
        reason = "; ".join(dict.fromkeys(reasons)) or (
            f"runs `{_segment(cell, cell.rest[0])}`, which is not part of the pipeline"
        )
        dropped.append(DroppedCell(cell.number, cell.first_line, reason))
    return dropped


def _why(cell: _Cell, stmt: ast.stmt) -> list[str]:
    """What an untagged statement does that the pipeline will not."""
    reasons = []
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        function = ast.unparse(node.func)
        modes = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
        writes_open = function == "open" and any(
            isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax")
            for m in modes
        )
        if writes_open or ("." in function and function.rsplit(".", 1)[1] in _WRITE_METHODS):
            reasons.append(f"writes a file (`{_segment(cell, node)}`)")
        elif function.endswith(_SEED_CALLS):
            reasons.append(
                f"sets a random seed (`{_segment(cell, node)}`): steps derive their seeds from "
                "the run's --seed instead"
            )
    if isinstance(stmt, ast.Expr):
        call = stmt.value
        if isinstance(call, ast.Call) and ast.unparse(call.func) in ("print", "display"):
            reasons.append(f"prints (`{_segment(cell, stmt)}`)")
        else:
            reasons.append(f"shows `{_segment(cell, stmt)}` (the pipeline does not keep output)")
    return reasons


# -- rendering ----------------------------------------------------------------------------
@dataclass
class _Module:
    label: str
    module: str
    name: str
    alias: str
    imports: list[_Hoisted]
    definitions: list[_Hoisted]
    steps: list[_Step]
    parameters: dict[str, Any]
    annotations: dict[str, str]
    returns: list[str]
    trusted: bool


def _render(m: _Module) -> str:
    label = m.label.replace("\\", "/").replace('"', "'")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    example = _example(m.parameters)
    out = [
        f'"""Pipeline generated from {label} by `loopml pipeline convert`.',
        "",
        f"Generated on {stamp}.",
        "Each step is a cell of the notebook tagged `step`, in notebook order: its inputs are",
        "the variables it reads from earlier cells, its outputs those later cells read.",
        f"Run it with: loopml pipeline run {Path(m.module).name}:{m.name}{example}",
        '"""',
        "",
    ]
    future = [(c, s) for c, s in m.imports if getattr(s, "module", None) == "__future__"]
    out += [_statement_text(c, s) for c, s in future]
    out += ([""] if future else []) + [
        "import loopml" + ("" if m.alias == "loopml" else f" as {m.alias}")
    ]
    out += [_statement_text(c, s) for c, s in m.imports if not any(s is f for _, f in future)]
    for cell, stmt in m.definitions:
        out += ["", "", f"# from cell {cell.number}", _statement_text(cell, stmt)]
    for step in m.steps:
        settings = [f"outputs={len(step.outputs)}"] if len(step.outputs) > 1 else []
        settings += ["trusted=True"] if m.trusted else []
        decorator = f"@{m.alias}.step" + (f"({', '.join(settings)})" if settings else "")
        out += ["", "", f"# cell {step.cell.number}", decorator]
        out.append(_wrapped(f"def {step.name}(", step.inputs, "):"))
        indent, body = _body(step)
        out += body
        if step.outputs:
            out.append(f"{indent}return {', '.join(step.outputs)}")
    signature = [
        f"{p}: {m.annotations[p]} = {v!r}" if p in m.annotations else f"{p}={v!r}"
        for p, v in m.parameters.items()
    ]
    out += ["", "", f"@{m.alias}.pipeline", _wrapped(f"def {m.name}(", signature, "):")]
    out.append(f'    """The tagged cells of {label}, wired by variable name."""')
    for step in m.steps:
        targets = f"{', '.join(step.outputs)} = " if step.outputs else ""
        out.append(_wrapped(f"    {targets}{step.name}(", step.inputs, ")"))
    if m.returns:
        out.append(_wrapped("    return {", [f'"{n}": {n}' for n in m.returns], "}"))
    return "\n".join(out).rstrip() + "\n"


def _statement_text(cell: _Cell, stmt: ast.stmt) -> str:
    """The statement as the user wrote it (decorators and inner comments kept)."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return ast.get_source_segment(cell.code, stmt) or ast.unparse(stmt)
    if _shares_lines(stmt, cell.code):
        return ast.unparse(stmt)
    lines = cell.code.splitlines()[_start(stmt) - 1 : stmt.end_lineno]
    return "\n".join(line.rstrip() for line in lines)


def _start(stmt: ast.stmt) -> int:
    return min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])


def _shares_lines(stmt: ast.stmt, code: str) -> bool:
    """Another statement on the same line (``import os; x = 1``)?"""
    lines = code.splitlines()
    before = lines[stmt.lineno - 1][: stmt.col_offset]
    after = lines[(stmt.end_lineno or stmt.lineno) - 1][stmt.end_col_offset :].strip()
    after = after.lstrip(";").strip()
    return bool(before.strip()) or (bool(after) and not after.startswith("#"))


def _body(step: _Step) -> tuple[str, list[str]]:
    """The cell's code minus hoisted statements, indented (multi-line strings untouched) with
    four spaces, or a tab when the cell indents with tabs. Returns (indent, lines)."""
    cell = step.cell
    if any(_shares_lines(s, cell.code) for s in cell.hoisted):
        text = ast.unparse(ast.Module(body=cell.rest, type_ignores=[]))
    else:
        lines = cell.code.splitlines()
        removed = {r for s in cell.hoisted for r in range(_start(s), (s.end_lineno or 0) + 1)}
        text = "\n".join(line for i, line in enumerate(lines, start=1) if i not in removed)
    rows = text.strip("\n").splitlines()
    while rows and not rows[-1].strip():
        rows.pop()
    keep = na.string_continuation_rows("\n".join(rows))
    code_rows = [row for i, row in enumerate(rows, start=1) if i not in keep]
    indent = "\t" if any(row.startswith("\t") for row in code_rows) else "    "
    if not rows:
        return indent, [f"{indent}pass"]
    return indent, [
        row if i in keep else (f"{indent}{row.rstrip()}" if row.strip() else "")
        for i, row in enumerate(rows, start=1)
    ]


def _wrapped(head: str, items: list[str], tail: str) -> str:
    """``head + items + tail`` on one line, or one item per line when too long."""
    one = f"{head}{', '.join(items)}{tail}"
    if len(one) <= _LINE or not items:
        return one
    indent = head[: len(head) - len(head.lstrip())]
    return "\n".join([head, *(f"{indent}    {i}," for i in items), indent + tail])


# -- small helpers ------------------------------------------------------------------------
def _example(parameters: dict[str, Any]) -> str:
    """`` --param C=0.5`` for the first parameter: how to pass one on the command line."""
    for key, value in parameters.items():
        text = value if isinstance(value, str) else json.dumps(value)
        return f" --param {key}={text}" if " " not in text else f" --param '{key}={text}'"
    return ""


def _segment(cell: _Cell, node: ast.AST) -> str:
    return na.first_line(ast.get_source_segment(cell.code, node) or ast.unparse(node))


def _names(names: list[str] | set[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _name_from_file(stem: str) -> str:
    name = re.sub(r"\W+", "_", stem).strip("_").lower() or "pipeline"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"pipeline_{name}"
    return name


def _check_identifier(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidInput(f"{what} {name!r} is not a Python name (letters, digits, _).")
