"""What a notebook cell reads and defines, found with :mod:`ast`: the facts
``loopml pipeline convert`` wires steps with. Pure functions over source text.

A cell *reads* a name when it loads it before binding it on every path through the cell (so
``x += 1`` and a loop that reads ``total`` before assigning it read them); it *defines* the
names it binds at cell level (assignments, loop and ``with`` targets, imports, ``def``,
``class``, walrus), minus those it deletes. Comprehension variables stay inside the
comprehension; names read inside a function or lambda body are read when it is called, and
count as reads of the cell unless the cell binds them itself.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field

BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}
IPYTHON_NAMES = frozenset({"display", "get_ipython", "In", "Out"})
# methods that change the object they are called on, whether or not the result is kept
_FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit", "fit_resample"})
# methods whose result thrown away means they were called for display or output only
READ_ONLY_METHODS = frozenset(
    str.split(
        "head tail describe info plot hist boxplot scatter bar barh show sample "
        "value_counts nunique unique isna isnull notna notnull sum mean median std var "
        "min max count corr cov copy score predict predict_proba decision_function "
        "transform get_params keys values items to_csv to_parquet to_json to_excel "
        "to_pickle to_sql to_html to_markdown to_string to_dict to_numpy to_frame "
        "savefig summary print display style"
    )
)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_FUNCTIONS = ast.FunctionDef | ast.AsyncFunctionDef
_TRY_STAR = getattr(ast, "TryStar", ast.Try)
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_LINE_MAGIC_RE = re.compile(r"^\s*(%|!)")
_TIME_RE = re.compile(r"^(\s*)%time\s+(\S.*)$")  # `%time x = f()` still runs `x = f()`
_SHELL_ASSIGN_RE = re.compile(r"^\s*[A-Za-z_][\w\s,]*=\s*[!%]")
_HELP_RE = re.compile(r"^\s*[\w.\[\]'\"]+\?{1,2}\s*$")


@dataclass
class CellNames:
    """Names one cell's statements read and bind, in first-seen order."""

    reads: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    definite: set[str] = field(default_factory=set)  # bound on every path through the cell
    # read only where an earlier statement of the cell may have bound them (after an `if`,
    # a loop): the earlier value matters only when that statement did not run
    soft_reads: set[str] = field(default_factory=set)
    modifies: dict[str, str] = field(default_factory=dict)  # changed in place: name -> code
    may_modify: dict[str, str] = field(default_factory=dict)  # a discarded method call on it
    deleted: set[str] = field(default_factory=set)


def strip_magics(source: str) -> tuple[str, list[str], bool]:
    """``(python, magic lines removed, whole cell is not Python)``.

    ``%%time``-like cell magics keep their Python body; other cell magics (``%%bash``,
    ``%%writefile``) make the whole cell non-Python. Line magics, shell escapes (``!pip``,
    ``files = !ls``) and help (``df?``) are removed; inside a block they become ``pass``;
    ``%time statement`` keeps its statement.
    """
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    removed: list[str] = []
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()
        if (magic[2:].split() or [""])[0] in _PYTHON_CELL_MAGICS:
            removed.append(magic)
            lines = lines[:first] + [""] + lines[first + 1 :]
        else:
            return "", [magic], True
    text = "\n".join(lines)
    try:
        ast.parse(text)
        return text, removed, False
    except SyntaxError:
        pass
    kept: list[str] = []
    for line in lines:
        timed = _TIME_RE.match(line)
        if timed:
            removed.append("%time")
            kept.append(timed.group(1) + timed.group(2))
        elif _LINE_MAGIC_RE.match(line) or _SHELL_ASSIGN_RE.match(line) or _HELP_RE.match(line):
            removed.append(line.strip())
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass" if indent else "")
        else:
            kept.append(line)
    return "\n".join(kept), removed, False


def string_continuation_rows(code: str) -> set[int]:
    """1-based rows that start inside a multi-line string: indenting them would change it."""
    rows: set[int] = set()
    fstring_start = getattr(tokenize, "FSTRING_START", None)
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    open_fstrings: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == fstring_start:
                open_fstrings.append(token.start[0])
            elif token.type == fstring_end and open_fstrings:
                rows.update(range(open_fstrings.pop() + 1, token.end[0] + 1))
            elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
                rows.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return rows
    return rows


def analyze(statements: list[ast.stmt], source: str = "") -> CellNames:
    """Reads, definitions and in-place changes of a cell's top-level statements."""
    flow = _CellFlow(source)
    definite = flow.block(statements, frozenset())
    names = CellNames()
    defined = [n for n in flow.bound if n not in flow.deleted]
    names.reads = list(flow.reads)
    names.reads += [n for n in flow.deferred if n not in flow.bound and n not in flow.reads]
    names.defines = defined
    names.definite = set(definite)
    names.soft_reads = set(flow.soft)
    names.modifies = flow.modifies
    names.may_modify = {k: v for k, v in flow.may_modify.items() if k not in flow.modifies}
    names.deleted = set(flow.deleted)
    return names


def free_names(node: ast.AST) -> set[str]:
    """Names a ``def``/``class``/``lambda`` (decorators and defaults included) reads from
    outside itself: what it needs at module level when hoisted there."""
    return _scope_free([node], set()) - {getattr(node, "name", "")}


def bound_names(statement: ast.stmt) -> list[str]:
    """Names an import, ``def`` or ``class`` statement binds."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.split(".")[0] for a in statement.names if a.name != "*"]
    if isinstance(statement, _FUNCTIONS | ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Try):
        return [n for s in _try_parts(statement) for n in bound_names(s)]
    return []


def is_import_only(statement: ast.stmt) -> bool:
    """An import, or ``try: import x`` / ``except ImportError: x = None`` (optional imports)."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return True
    if not isinstance(statement, ast.Try) or not statement.handlers:
        return False
    parts = _try_parts(statement)
    if not any(isinstance(s, ast.Import | ast.ImportFrom) for s in statement.body):
        return False
    return all(
        isinstance(s, ast.Import | ast.ImportFrom | ast.Pass)
        or (
            isinstance(s, ast.Assign)
            and isinstance(s.value, ast.Constant)
            and all(isinstance(t, ast.Name) for t in s.targets)
        )
        for s in parts
    )


def _try_parts(statement: ast.Try) -> list[ast.stmt]:
    parts = [*statement.body, *statement.orelse, *statement.finalbody]
    for handler in statement.handlers:
        parts.extend(handler.body)
    return parts


def root_name(node: ast.AST) -> str | None:
    """``df`` for ``df.loc[...]``, ``df["a"].x`` or ``df.fit``; None when no name is at the root."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def first_line(text: str, limit: int = 60) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _CellFlow:
    """Walks statements in execution order, tracking which names are surely bound."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reads: dict[str, None] = {}
        self.soft: set[str] = set()
        self.deferred: dict[str, None] = {}
        self.bound: dict[str, None] = {}
        self.deleted: set[str] = set()
        self.modifies: dict[str, str] = {}
        self.may_modify: dict[str, str] = {}

    def code(self, node: ast.AST) -> str:
        return first_line(ast.get_source_segment(self.source, node) or ast.unparse(node))

    def read(self, name: str, bound: frozenset[str]) -> None:
        if name not in bound and name not in self.reads:
            self.reads[name] = None
            if name in self.bound:
                self.soft.add(name)

    def bind(self, name: str, bound: frozenset[str]) -> frozenset[str]:
        self.bound.setdefault(name, None)
        self.deleted.discard(name)
        return bound | {name}

    def block(self, body: list[ast.stmt], bound: frozenset[str]) -> frozenset[str]:
        for statement in body:
            bound = self.statement(statement, bound)
        return bound

    def statement(self, node: ast.stmt, bound: frozenset[str]) -> frozenset[str]:  # noqa: C901
        if isinstance(node, ast.Assign):
            bound = self.expr(node.value, bound)
            for target in node.targets:
                bound = self.target(target, bound, node)
            return bound
        if isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                self.read(node.target.id, bound)
                return self.bind(node.target.id, self.expr(node.value, bound))
            return self.target(node.target, self.expr(node.value, bound), node)
        if isinstance(node, ast.AnnAssign):
            if node.value is None:
                return bound
            return self.target(node.target, self.expr(node.value, bound), node)
        if isinstance(node, ast.For | ast.AsyncFor):
            bound = self.expr(node.iter, bound)
            self.block(node.body, self.target(node.target, bound, node))
            self.block(node.orelse, bound)
            return bound
        if isinstance(node, ast.While):
            bound = self.expr(node.test, bound)
            self.block(node.body, bound)
            self.block(node.orelse, bound)
            return bound
        if isinstance(node, ast.If):
            bound = self.expr(node.test, bound)
            return self.block(node.body, bound) & self.block(node.orelse, bound)
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                bound = self.expr(item.context_expr, bound)
                if item.optional_vars is not None:
                    bound = self.target(item.optional_vars, bound, node)
            return self.block(node.body, bound)
        if isinstance(node, ast.Try | _TRY_STAR):
            after = self.block(node.orelse, self.block(node.body, bound))
            for handler in node.handlers:
                handled = self.expr(handler.type, bound)
                if handler.name:
                    handled = self.bind(handler.name, handled)
                after &= self.block(handler.body, handled) - {handler.name}
            return self.block(node.finalbody, after)
        if isinstance(node, _FUNCTIONS | ast.ClassDef):
            self.deferred.update(dict.fromkeys(sorted(free_names(node))))
            return self.bind(node.name, bound)
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in bound_names(node):
                bound = self.bind(name, bound)
            return bound
        if isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.read(target.id, bound)
                    self.deleted.add(target.id)
                    bound = bound - {target.id}
                else:
                    bound = self.target(target, bound, node)
            return bound
        if isinstance(node, ast.Expr):
            bound = self.expr(node.value, bound)
            call = node.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                root = root_name(call.func.value)
                if root and call.func.attr not in READ_ONLY_METHODS:
                    self.may_modify.setdefault(root, self.code(node))
            return bound
        if isinstance(node, ast.Match):
            bound = self.expr(node.subject, bound)
            for case in node.cases:
                inner = bound
                for sub in ast.walk(case.pattern):
                    captured = getattr(sub, "name", None) or getattr(sub, "rest", None)
                    if isinstance(captured, str):
                        inner = self.bind(captured, inner)
                self.block(case.body, self.expr(case.guard, inner))
            return bound
        for child in ast.iter_child_nodes(node):  # assert, raise, return, global, pass...
            bound = self.expr(child, bound)
        return bound

    def target(self, node: ast.AST, bound: frozenset[str], statement: ast.stmt) -> frozenset[str]:
        if isinstance(node, ast.Name):
            return self.bind(node.id, bound)
        if isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                bound = self.target(element, bound, statement)
            return bound
        if isinstance(node, ast.Starred):
            return self.target(node.value, bound, statement)
        if isinstance(node, ast.Attribute | ast.Subscript):
            bound = self.expr(node.value, bound)
            if isinstance(node, ast.Subscript):
                bound = self.expr(node.slice, bound)
            root = root_name(node)
            if root:
                self.modifies.setdefault(root, self.code(statement))
            return bound
        return self.expr(node, bound)

    def expr(self, node: ast.AST | None, bound: frozenset[str]) -> frozenset[str]:
        if node is None:
            return bound
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.read(node.id, bound)
            return bound
        if isinstance(node, ast.NamedExpr):
            return self.bind(node.target.id, self.expr(node.value, bound))
        if isinstance(node, ast.Lambda):
            self.deferred.update(dict.fromkeys(sorted(free_names(node))))
            return bound
        if isinstance(node, _COMPREHENSIONS):
            bound = self.expr(node.generators[0].iter, bound)
            for name in sorted(_comprehension_free(node)):
                self.read(name, bound)
            for inner in ast.walk(node):
                if isinstance(inner, ast.NamedExpr):
                    bound = self.bind(inner.target.id, bound)
            return bound
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = root_name(node.func.value)
            in_place = any(
                k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            if root and (in_place or node.func.attr in _FIT_METHODS):
                self.modifies.setdefault(root, self.code(node))
        for child in ast.iter_child_nodes(node):
            bound = self.expr(child, bound)
        return bound


def _arg_names(arguments: ast.arguments) -> set[str]:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return {a.arg for a in every}


def _comprehension_free(node: ast.AST) -> set[str]:
    """Names a comprehension reads from outside, besides its first iterable."""
    targets: set[str] = set()
    parts: list[ast.AST] = []
    for i, generator in enumerate(node.generators):  # type: ignore[attr-defined]
        if i:
            parts.append(generator.iter)
        targets |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
        parts.extend(generator.ifs)
    if isinstance(node, ast.DictComp):
        parts += [node.key, node.value]
    else:
        parts.append(node.elt)  # type: ignore[attr-defined]
    return _scope_free(parts, targets)


def _scope_free(nodes: Sequence[ast.AST], params: set[str]) -> set[str]:
    """Names loaded in a scope (and its nested scopes) that the scope does not bind."""
    bound = set(params)
    loads: set[str] = set()
    declared: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, _FUNCTIONS | ast.Lambda):
            if not isinstance(node, ast.Lambda):
                bound.add(node.name)
                for decorator in node.decorator_list:
                    visit(decorator)
                if node.returns is not None:
                    visit(node.returns)
            visit(node.args)
            body = node.body if isinstance(node.body, list) else [node.body]
            loads.update(_scope_free(body, _arg_names(node.args)))
        elif isinstance(node, ast.ClassDef):
            bound.add(node.name)
            for part in [*node.decorator_list, *node.bases, *node.keywords]:
                visit(part)
            loads.update(_scope_free(node.body, set()))
        elif isinstance(node, _COMPREHENSIONS):
            visit(node.generators[0].iter)
            loads.update(_comprehension_free(node))
        elif isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update(bound_names(node))
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared.update(node.names)
        elif isinstance(node, ast.arg):
            if node.annotation is not None:
                visit(node.annotation)
        else:
            for attribute in ("name", "rest"):  # except ... as e, match captures
                value = getattr(node, attribute, None)
                if isinstance(value, str) and not isinstance(node, ast.alias):
                    bound.add(value)
            for child in ast.iter_child_nodes(node):
                visit(child)

    for node in nodes:
        visit(node)
    return loads - (bound - declared)
