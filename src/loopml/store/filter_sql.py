"""Compile the filter AST into SQLAlchemy Core over ``runs`` (SQLite and PostgreSQL alike).

metrics, params and tags live in key/value tables keyed by ``(run_id, key)``: a condition is
a semi-join on them (``run_id IN (SELECT run_id ...)``), ``IS NULL`` a ``NOT EXISTS``, a sort
key a correlated scalar subquery. Every value is a bound parameter: no user text is ever
spliced into SQL.

Semantics that are the same on both dialects, whatever their defaults:

* a comparison never matches a run that lacks the key (use ``IS NULL`` for those), and a
  NaN metric (stored as ``value = NULL, is_nan = true``) never matches a numeric comparison;
* ``LIKE`` is case-sensitive (SQLite's LIKE is not: there it compiles to ``GLOB``) and
  ``ILIKE`` is not (on SQLite it folds ASCII letters only); ``\\`` escapes ``%`` and ``_``;
* text is ordered and range-compared by code point (PostgreSQL gets ``COLLATE "C"``);
* a run without the sort key (or with a NaN metric) sorts last, ascending or descending.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from loopml.store.filter_language import (
    ORDERING_OPS,
    And,
    Comparison,
    Expr,
    InList,
    IsNull,
    Key,
    Or,
    OrderKey,
    Value,
)
from loopml.store.tables import latest_metrics, params, runs, tags

_COMPARE: dict[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_KEY_TABLES = {"metrics": latest_metrics, "params": params, "tags": tags}
_GLOB_LITERALS = {"*": "[*]", "?": "[?]", "[": "[[]"}


def compile_filter(expr: Expr) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``runs``: ``select(runs).where(compile_filter(parse_filter(f)))``."""
    if isinstance(expr, And):
        return sa.and_(*(compile_filter(item) for item in expr.items))
    if isinstance(expr, Or):
        return sa.or_(*(compile_filter(item) for item in expr.items))
    if isinstance(expr, IsNull):
        return _is_null(expr.key, expr.negated)
    if isinstance(expr, Comparison):
        return _on_value(expr.key, lambda column: _compare(column, expr.op, expr.value))
    if isinstance(expr, InList):
        return _on_value(expr.key, lambda column: _in_list(column, expr.values, expr.negated))
    raise TypeError(f"not a filter expression: {expr!r}")


def order_by_clauses(keys: Sequence[OrderKey]) -> list[sa.ColumnElement[Any]]:
    """ORDER BY terms; ``start_time DESC, run_id`` always close the list so that pages of
    a paginated search neither repeat nor skip runs."""
    clauses: list[sa.ColumnElement[Any]] = []
    for order in keys:
        value = _sort_value(order.key)
        if _may_be_null(order.key):
            clauses.append(value.is_(None))  # false < true: missing values go last
        if not order.key.is_numeric:
            value = _codepoint(value)
        clauses.append(value.desc() if order.descending else value.asc())
    clauses += [runs.c.start_time.desc(), runs.c.run_id.asc()]
    return clauses


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, ``\\`` escapes) to SQLite's case-sensitive GLOB."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
            out.append(_GLOB_LITERALS.get(char, char))
        else:
            out.append({"%": "*", "_": "?"}.get(char) or _GLOB_LITERALS.get(char, char))
    return "".join(out)


def _on_value(
    key: Key, condition: Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]]
) -> sa.ColumnElement[bool]:
    """Apply ``condition`` to the run's attribute column, or to the value row of its key.

    ``run_id IN (SELECT run_id ... WHERE key = :k AND <condition>)`` means the same as a
    correlated EXISTS, but lets the planner start from the ``(key, value)`` index: a
    selective filter over 10k runs takes ~0.5 ms instead of ~20 ms (SQLite and PostgreSQL).
    """
    if key.kind == "attributes":
        return condition(runs.c[key.name])
    table = _KEY_TABLES[key.kind]
    where = [table.c.key == key.name, condition(table.c.value)]
    if key.kind == "metrics":
        where.append(table.c.is_nan == sa.false())
    # correlate(None): stays right even if the caller's query also joins this table
    return runs.c.run_id.in_(sa.select(table.c.run_id).where(*where).correlate(None))


def _is_null(key: Key, negated: bool) -> sa.ColumnElement[bool]:
    if key.kind == "attributes":
        column = runs.c[key.name]
        return column.is_not(None) if negated else column.is_(None)
    table = _KEY_TABLES[key.kind]
    logged = sa.exists().where(table.c.run_id == runs.c.run_id, table.c.key == key.name)
    logged = logged.correlate_except(table)
    return logged if negated else ~logged


def _compare(column: sa.ColumnElement[Any], op: str, value: Value) -> sa.ColumnElement[bool]:
    if op == "LIKE":
        return _case_sensitive_like(column, sa.bindparam(None, value.value, _LikePattern()))
    bound = _bind(value)
    if op == "ILIKE":
        return column.ilike(bound, escape="\\")
    if op in ORDERING_OPS and isinstance(value.value, str):
        return _COMPARE[op](_codepoint(column), bound)
    return _COMPARE[op](column, bound)


def _in_list(
    column: sa.ColumnElement[Any], values: Sequence[Value], negated: bool
) -> sa.ColumnElement[bool]:
    bounds = [_bind(value) for value in values]
    return column.not_in(bounds) if negated else column.in_(bounds)


def _bind(value: Value) -> sa.BindParameter[Any]:
    """Bind with the literal's own type: PostgreSQL would cast ``1.5`` to BIGINT for seed."""
    literal = value.value
    if isinstance(literal, str):
        return sa.bindparam(None, literal, sa.String())
    return sa.bindparam(
        None, literal, sa.Float() if isinstance(literal, float) else sa.BigInteger()
    )


def _sort_value(key: Key) -> sa.ColumnElement[Any]:
    if key.kind == "attributes":
        return runs.c[key.name]
    table = _KEY_TABLES[key.kind]
    return (
        sa.select(table.c.value)
        .where(table.c.run_id == runs.c.run_id, table.c.key == key.name)
        .correlate_except(table)
        .scalar_subquery()
    )


def _may_be_null(key: Key) -> bool:
    return key.kind != "attributes" or bool(runs.c[key.name].nullable)


class _codepoint(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """Text compared by code point: PostgreSQL would otherwise use the database's locale."""

    type = sa.String()
    inherit_cache = True
    name = "codepoint"


class _case_sensitive_like(FunctionElement[Any]):  # noqa: N801
    type = sa.types.NullType()  # Boolean would render "(... GLOB ?) = 1" on SQLite
    inherit_cache = True
    name = "case_sensitive_like"


class _LikePattern(sa.TypeDecorator[str]):
    """A LIKE pattern that becomes a GLOB pattern when bound on SQLite."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None or dialect.name != "sqlite":
            return value
        return like_to_glob(value)


@compiles(_codepoint)
def _codepoint_default(element: _codepoint, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_codepoint, "postgresql")
def _codepoint_postgresql(element: _codepoint, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


@compiles(_case_sensitive_like)
def _like_default(element: _case_sensitive_like, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = element.clauses.clauses
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(pattern, **kw)})"


@compiles(_case_sensitive_like, "sqlite")
def _like_sqlite(element: _case_sensitive_like, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = element.clauses.clauses
    return f"({compiler.process(column, **kw)} GLOB {compiler.process(pattern, **kw)})"
