"""Request bodies -> rows in the signature's column order, with per-instance problems.

Two JSON shapes are accepted on ``/predict`` and ``/explain``:

- ``{"instances": [{"col": value, ...}, ...]}`` (records)
- ``{"columns": ["col", ...], "data": [[value, ...], ...]}`` (split)

Only the shape is checked here (cheap, per request, on the event loop). Types, categories and
missing values are checked by ``loopml.models.signature.validate`` on the merged batch, where
pandas' per-call overhead is paid once for many requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


class PayloadError(Exception):
    """The body cannot be read at all (status 400/413/422, with a JSON detail)."""

    def __init__(self, status: int, message: str, detail: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail or []

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class ParsedRows:
    rows: list[list[Any]]
    problems: list[dict[str, Any]] = field(default_factory=list)


def problem(instance: int | None, field_name: str, text: str) -> dict[str, Any]:
    """One entry of a 422 body: which instance, which field, what is wrong."""
    return {"instance": instance, "field": field_name, "problem": text}


def load_json(body: bytes) -> Any:
    if not body:
        raise PayloadError(400, "the request body is empty; send JSON (see /docs)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, f"the request body is not valid JSON: {exc}") from None


def parse_rows(payload: Any, columns: list[str], *, max_rows: int) -> ParsedRows:
    """Rows of ``payload`` in ``columns`` order; shape problems are listed per instance."""
    if not isinstance(payload, dict):
        raise PayloadError(
            422,
            "expected a JSON object with 'instances' (a list of records) or 'columns' and "
            "'data'",
            [problem(None, "body", f"got {type(payload).__name__}")],
        )
    if "instances" in payload:
        instances = payload["instances"]
        _check_list(instances, "instances", max_rows)
        return _from_records(instances, columns)
    if "data" in payload or "columns" in payload:
        return _from_split(payload, columns, max_rows)
    raise PayloadError(
        422,
        "expected 'instances' (a list of records) or 'columns' and 'data'",
        [problem(None, "instances", "missing")],
    )


def _check_list(value: Any, name: str, max_rows: int) -> None:
    if not isinstance(value, list):
        raise PayloadError(
            422, f"'{name}' must be a list", [problem(None, name, f"got {type(value).__name__}")]
        )
    if not value:
        raise PayloadError(422, f"'{name}' is empty", [problem(None, name, "empty list")])
    if len(value) > max_rows:
        raise PayloadError(
            422,
            f"too many instances: {len(value)} > {max_rows} per request; split the request",
            [problem(None, name, f"{len(value)} rows, the limit is {max_rows}")],
        )


def _from_records(instances: list[Any], columns: list[str]) -> ParsedRows:
    expected = set(columns)
    rows: list[list[Any]] = []
    problems: list[dict[str, Any]] = []
    for i, record in enumerate(instances):
        if not isinstance(record, dict):
            problems.append(problem(i, "instances", f"expected an object, got {_kind(record)}"))
            continue
        if record.keys() != expected:
            problems.extend(_column_problems(i, record.keys(), columns))
            continue
        rows.append([record[c] for c in columns])
    return ParsedRows(rows, problems)


def _from_split(payload: dict[str, Any], columns: list[str], max_rows: int) -> ParsedRows:
    given = payload.get("columns")
    data = payload.get("data")
    if not isinstance(given, list) or not all(isinstance(c, str) for c in given):
        raise PayloadError(
            422, "'columns' must be a list of column names", [problem(None, "columns", "bad")]
        )
    _check_list(data, "data", max_rows)
    if len(set(given)) != len(given):
        raise PayloadError(
            422, "'columns' has duplicates", [problem(None, "columns", "duplicate names")]
        )
    structural = _column_problems(None, given, columns)
    if structural:
        raise PayloadError(422, "the columns do not match the model's signature", structural)
    order = [given.index(c) for c in columns]
    rows: list[list[Any]] = []
    problems: list[dict[str, Any]] = []
    width = len(given)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            problems.append(
                problem(i, "data", f"expected a list of {width} values, got {_kind(row)}")
            )
            continue
        rows.append([row[j] for j in order])
    return ParsedRows(rows, problems)


def _column_problems(instance: int | None, given: Any, columns: list[str]) -> list[dict[str, Any]]:
    expected = set(columns)
    present = set(given)
    out = [
        problem(instance, c, "missing column: the model needs it")
        for c in columns
        if c not in present
    ]
    out += [
        problem(instance, str(c), "unexpected column: the model does not take it; remove it")
        for c in given
        if c not in expected
    ]
    return out


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__
