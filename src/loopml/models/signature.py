"""Model signatures: what a model accepts, and a fast check of requests against it.

A signature is inferred once, at registration, from the input example (column names, order,
dtypes) and the training data or its profile (allowed categories, nullability, observed
ranges). It is stored with the model version as plain JSON (:meth:`Signature.to_dict`); the
prediction service validates every request with :func:`validate` before the model sees it.

Validation works column by column with vectorised pandas/numpy operations; only columns that
hold mixed Python objects (for example a string among numbers) are inspected cell by cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import as_frame
from loopml.data.profile import OTHER
from loopml.data.schema import KINDS, infer_schema, is_text_dtype
from loopml.errors import InvalidInput

MAX_ERRORS = 100
UNSEEN_POLICIES = ("reject", "flag")
SIGNATURE_FORMAT = 1
_FAMILY = {
    "numeric": "number",
    "integer": "number",
    "boolean": "boolean",
    "categorical": "string",
    "text": "string",
    "datetime": "datetime",
}
_DEFAULT_DTYPE = {
    "numeric": "float64",
    "integer": "float64",
    "boolean": "object",
    "categorical": "object",
    "text": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One input column. ``min``/``max`` are numbers, or ISO strings for datetimes."""

    name: str
    dtype: str
    kind: str
    nullable: bool
    categories: tuple[str, ...] | None = None
    min: float | str | None = None
    max: float | str | None = None


@dataclass(frozen=True)
class Signature:
    """The columns a model takes (in order) and what it returns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form, stored with the model version."""
        inputs = []
        for spec in self.inputs:
            entry = asdict(spec)
            entry["categories"] = None if spec.categories is None else list(spec.categories)
            inputs.append(entry)
        return {"format": SIGNATURE_FORMAT, "inputs": inputs, "outputs": dict(self.outputs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Rebuild a signature stored by :meth:`to_dict`; malformed data is ``InvalidInput``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), list):
            raise InvalidInput("signature: expected a dict with an 'inputs' list (see to_dict)")
        specs = []
        for i, entry in enumerate(data["inputs"]):
            try:
                categories = entry.get("categories")
                spec = ColumnSpec(
                    name=str(entry["name"]),
                    dtype=str(entry["dtype"]),
                    kind=str(entry["kind"]),
                    nullable=bool(entry["nullable"]),
                    categories=None if categories is None else tuple(map(str, categories)),
                    min=entry.get("min"),
                    max=entry.get("max"),
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise InvalidInput(f"signature: input {i} is malformed ({exc!r})") from exc
            if spec.kind not in KINDS:
                raise InvalidInput(
                    f"signature: input {spec.name!r} has unknown kind {spec.kind!r}; "
                    f"expected one of {', '.join(KINDS)}"
                )
            specs.append(spec)
        outputs = data.get("outputs") or {}
        return cls(inputs=tuple(specs), outputs=dict(outputs))


@dataclass
class ValidationResult:
    """Outcome of :func:`validate`.

    ``errors`` and ``warnings`` are ``{"row", "column", "problem"}`` dicts (``row`` is the
    0-based position, ``None`` for a whole column), sorted by row and capped at 100 each;
    ``n_errors`` is the uncapped count. ``frame`` holds the signature's columns in order,
    coerced to its dtypes where that was safe: use it only when ``ok``.
    """

    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    frame: pd.DataFrame
    n_errors: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise ``InvalidInput`` listing the first errors (for batch jobs, not HTTP)."""
        if self.ok:
            return
        shown = "; ".join(
            f"{'row ' + str(e['row']) + ', ' if e['row'] is not None else ''}"
            f"column {e['column']!r}: {e['problem']}"
            for e in self.errors[:5]
        )
        more = f" (and {self.n_errors - 5} more)" if self.n_errors > 5 else ""
        raise InvalidInput(f"data does not match the model's signature: {shown}{more}")


def infer_signature(
    input_example: Any,
    *,
    training_data: Any = None,
    training_profile: Mapping[str, Any] | None = None,
    model: Any = None,
) -> Signature:
    """Infer a model's signature from an input example and what it was trained on.

    Names, order and dtypes come from ``input_example``. Kinds, allowed categories,
    nullability and ranges come from ``training_data`` (or, without it, ``training_profile``
    from :func:`loopml.data.profile.profile_frame`), widened to cover the example, so the
    example always validates against its own signature. Outputs come from ``model``.
    """
    example = as_frame(input_example, "input_example")
    if example.shape[0] == 0:
        raise InvalidInput(
            "input_example: has no rows; pass a few rows of real model input (e.g. X_train[:20])"
        )
    reference = _reference_columns(example, training_data, training_profile)
    schema = infer_schema(example)["columns"]
    inputs = tuple(
        _column_spec(col, example.iloc[:, i], reference.get(col["name"]))
        for i, col in enumerate(schema)
    )
    return Signature(inputs=inputs, outputs=_outputs(model))


def validate(
    signature: Signature, data: Any, *, unseen_categories: str = "reject"
) -> ValidationResult:
    """Check ``data`` (a DataFrame or a list of dict records) against ``signature``.

    Errors: missing or extra columns, values of the wrong type, missing values in a column that
    is not nullable, unseen categories (``unseen_categories="flag"`` makes them warnings).
    Values outside the training range are only warnings: drift is monitoring's job. Raises
    ``InvalidInput`` only when ``data`` is not a table at all.
    """
    if unseen_categories not in UNSEEN_POLICIES:
        raise InvalidInput(
            f"unseen_categories: must be one of {', '.join(UNSEEN_POLICIES)}, "
            f"got {unseen_categories!r}"
        )
    frame = as_frame(data, "data")
    issues = _Issues(signature.columns)
    expected = set(signature.columns)
    for name in frame.columns:
        if name not in expected:
            issues.error(None, name, "unexpected column: the model does not take it; remove it")
    coerced: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        if spec.name not in frame.columns:
            issues.error(
                None, spec.name, f"missing column ({spec.kind}): the model needs it in every row"
            )
            continue
        checker = _CHECKS[spec.kind]
        coerced[spec.name] = checker(spec, frame[spec.name], issues, unseen_categories)
    out = pd.DataFrame(
        coerced, index=frame.index, columns=[c for c in signature.columns if c in coerced]
    )
    errors, n_errors = issues.sorted_errors()
    return ValidationResult(
        errors=errors, warnings=issues.sorted_warnings(), frame=out, n_errors=n_errors
    )


# --- inference ---------------------------------------------------------------------------


def _reference_columns(
    example: pd.DataFrame, training_data: Any, training_profile: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Per-column ``kind, dtype, nullable, categories, min, max`` of the training data."""
    if training_data is not None:
        train = as_frame(training_data, "training_data")
        _require_same_columns(list(example.columns), list(train.columns), "training_data")
        return {c["name"]: c for c in infer_schema(train[list(example.columns)])["columns"]}
    if training_profile is None:
        return {}
    columns = training_profile.get("columns") if isinstance(training_profile, Mapping) else None
    if not isinstance(columns, Mapping):
        raise InvalidInput(
            "training_profile: expected the dict returned by loopml.data.profile.profile_frame "
            "(with a 'columns' mapping)"
        )
    _require_same_columns(list(example.columns), list(columns), "training_profile")
    return {name: _from_profile(columns[name]) for name in example.columns}


def _require_same_columns(example: list[str], training: list[str], what: str) -> None:
    missing = [c for c in example if c not in set(training)]
    extra = [c for c in training if c not in set(example)]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"in the input example but not in {what}: {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"in {what} but not in the input example: {', '.join(map(repr, extra))}")
    raise InvalidInput(
        f"{what}: its columns differ from the input example's ({'; '.join(parts)}); pass the "
        "same feature columns to both (drop the target from the training data, e.g. "
        "training_data=train_df[list(input_example.columns)])"
    )


def _from_profile(entry: Mapping[str, Any]) -> dict[str, Any]:
    kind = entry.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"training_profile: column kind {kind!r} is not one of {KINDS}")
    categories = None
    if kind == "categorical":
        freqs = entry.get("frequencies") or {}
        # An "__other__" bucket means the list is incomplete: do not reject unseen values.
        categories = None if OTHER in freqs else sorted(str(k) for k in freqs)
    return {
        "kind": kind,
        "dtype": None,
        "nullable": bool(entry.get("n_missing", 0)),
        "categories": categories,
        "min": entry.get("min"),
        "max": entry.get("max"),
    }


def _column_spec(col: dict[str, Any], values: pd.Series, ref: dict[str, Any] | None) -> ColumnSpec:
    name, kind, dtype = col["name"], col["kind"], col["dtype"]
    if ref is None:
        categories = col["categories"]
        return ColumnSpec(
            name, dtype, kind, col["nullable"], _tuple(categories), col["min"], col["max"]
        )
    all_missing = bool(values.isna().all())
    if all_missing:
        kind = ref["kind"]
        dtype = ref.get("dtype") or _DEFAULT_DTYPE[kind]
    elif _FAMILY[kind] != _FAMILY[ref["kind"]]:
        raise InvalidInput(
            f"input_example: column {name!r} is {kind} ({dtype}) but the training data has "
            f"{ref['kind']} values; pass an example with the same columns as the training data"
        )
    elif _FAMILY[kind] == "number":
        kind = "numeric" if "numeric" in (kind, ref["kind"]) else "integer"
    else:
        kind = ref["kind"]
    categories = None
    if kind == "categorical" and ref["categories"] is not None:
        seen = values.dropna().astype(str).unique().tolist()
        categories = tuple(sorted({*ref["categories"], *seen}))
    low, high = _widen(kind, (ref["min"], ref["max"]), (col["min"], col["max"]))
    nullable = bool(ref["nullable"] or col["nullable"])
    return ColumnSpec(name, dtype, kind, nullable, categories, low, high)


def _widen(kind: str, a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    """The range covering both ``a`` and ``b`` (either side may be ``None``)."""
    if kind not in ("numeric", "integer", "datetime"):
        return None, None
    convert = {"datetime": pd.Timestamp, "integer": int}.get(kind, float)
    lows = [convert(v) for v in (a[0], b[0]) if v is not None]
    highs = [convert(v) for v in (a[1], b[1]) if v is not None]
    try:
        low = min(lows) if lows else None
        high = max(highs) if highs else None
    except TypeError:  # tz-aware vs naive timestamps: keep the training range
        return a
    if kind == "datetime":
        return (
            None if low is None else low.isoformat(),
            None if high is None else high.isoformat(),
        )
    return low, high


def _tuple(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def _outputs(model: Any) -> dict[str, Any]:
    if model is None:
        return {}
    try:
        classes = getattr(model, "classes_", None)
    except Exception:  # noqa: BLE001 - properties of unfitted or odd models may raise
        classes = None
    out: dict[str, Any] = {"proba": callable(getattr(model, "predict_proba", None))}
    if classes is None:
        out["kind"] = "value"
    else:
        out["kind"] = "label"
        out["classes"] = np.asarray(classes).tolist()
    return out


# --- validation --------------------------------------------------------------------------


class _Issues:
    """Collects errors and warnings cheaply: per column at most ``MAX_ERRORS`` are rendered."""

    def __init__(self, columns: list[str]) -> None:
        self._order = {name: i for i, name in enumerate(columns)}
        self._errors: list[tuple[int, int, dict[str, Any]]] = []
        self._warnings: list[tuple[int, int, dict[str, Any]]] = []
        self._n_errors = 0

    def error(self, row: int | None, column: str, problem: str) -> None:
        self._n_errors += 1
        self._errors.append(self._entry(row, column, problem))

    def cells(self, mask: np.ndarray, column: str, describe: Any, *, warning: bool = False) -> None:
        """Record one issue per ``True`` position of ``mask``; ``describe(i)`` words it."""
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        target = self._warnings if warning else self._errors
        if not warning:
            self._n_errors += int(positions.size)
        for i in positions[:MAX_ERRORS].tolist():
            target.append(self._entry(i, column, describe(i)))

    def _entry(self, row: int | None, column: str, problem: str) -> tuple[int, int, dict[str, Any]]:
        key = -1 if row is None else row
        return (
            key,
            self._order.get(column, len(self._order)),
            {"row": row, "column": column, "problem": problem},
        )

    def sorted_errors(self) -> tuple[list[dict[str, Any]], int]:
        return _first(self._errors), self._n_errors

    def sorted_warnings(self) -> list[dict[str, Any]]:
        return _first(self._warnings)


def _first(entries: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    entries.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in entries[:MAX_ERRORS]]


def _show(value: Any) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).isoformat()
    elif isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _cell_mask(column: pd.Series, test: Any) -> np.ndarray:
    """Per-cell Python test, used only on object columns (mixed values)."""
    values = column.to_numpy(dtype=object)
    return np.fromiter((test(v) for v in values), dtype=bool, count=len(values))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _missing(spec: ColumnSpec, column: pd.Series, missing: np.ndarray, issues: _Issues) -> None:
    if not spec.nullable:
        issues.cells(
            missing,
            spec.name,
            lambda i: "missing value: this column takes no nulls (none in training); send a value",
        )


def _check_number(spec: ColumnSpec, column: pd.Series, issues: _Issues, _unseen: str) -> pd.Series:
    missing = column.isna().to_numpy()
    dtype = column.dtype
    expected = "an integer" if spec.kind == "integer" else "a number"
    if pd.api.types.is_bool_dtype(dtype):
        wrong = ~missing
    elif pd.api.types.is_numeric_dtype(dtype):
        wrong = np.zeros(len(column), dtype=bool)
    elif is_text_dtype(dtype) and pd.api.types.infer_dtype(column, skipna=True) in (
        "string",
        "empty",
    ):
        wrong = ~missing
    else:
        wrong = ~missing & ~_cell_mask(column, _is_number)
    raw = column.to_numpy(dtype=object) if wrong.any() else None
    issues.cells(wrong, spec.name, lambda i: f"expected {expected}, got {_show(raw[i])}")
    _missing(spec, column, missing, issues)
    numbers = np.full(len(column), np.nan)
    good = ~wrong & ~missing
    if good.all():
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
    elif good.any():
        numbers[good] = column[good].to_numpy(dtype="float64", na_value=np.nan)
    fractional = np.zeros(len(column), dtype=bool)
    if spec.kind == "integer":
        with np.errstate(invalid="ignore"):
            fractional = good & (np.floor(numbers) != numbers)
        issues.cells(
            fractional, spec.name, lambda i: f"expected an integer, got {_show(numbers[i])}"
        )
    _range_warnings(spec, numbers, issues, float)
    if wrong.any() or fractional.any():
        return column
    return _as_dtype(pd.Series(numbers, index=column.index, name=column.name), spec.dtype, missing)


def _as_dtype(numbers: pd.Series, dtype: str, missing: np.ndarray) -> pd.Series:
    """Cast to the signature's dtype unless that would lose missing values (then float64)."""
    try:
        target = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return numbers
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return numbers
    if missing.any() and pd.api.types.is_integer_dtype(target) and isinstance(target, np.dtype):
        return numbers
    try:
        return numbers.astype(target)
    except (TypeError, ValueError, OverflowError):
        return numbers


def _range_warnings(spec: ColumnSpec, values: Any, issues: _Issues, convert: Any) -> None:
    with np.errstate(invalid="ignore"):
        if spec.min is not None:
            low = convert(spec.min)
            issues.cells(
                np.asarray(values < low),
                spec.name,
                lambda i: (
                    f"value {_show(values[i])} is below the smallest seen in training ({spec.min})"
                ),
                warning=True,
            )
        if spec.max is not None:
            high = convert(spec.max)
            issues.cells(
                np.asarray(values > high),
                spec.name,
                lambda i: (
                    f"value {_show(values[i])} is above the largest seen in training ({spec.max})"
                ),
                warning=True,
            )


def _check_boolean(spec: ColumnSpec, column: pd.Series, issues: _Issues, _unseen: str) -> pd.Series:
    missing = column.isna().to_numpy()
    if pd.api.types.is_bool_dtype(column.dtype):
        wrong = np.zeros(len(column), dtype=bool)
    else:
        wrong = ~missing & ~_cell_mask(
            column, lambda v: isinstance(v, bool | np.bool_) or (_is_number(v) and v in (0, 1))
        )
    raw = column.to_numpy(dtype=object)
    issues.cells(wrong, spec.name, lambda i: f"expected true or false, got {_show(raw[i])}")
    _missing(spec, column, missing, issues)
    if wrong.any() or pd.api.types.is_bool_dtype(column.dtype):
        return column
    values = pd.Series(
        [None if m else bool(v) for v, m in zip(raw, missing, strict=True)],
        index=column.index,
        name=column.name,
        dtype=object,
    )
    return values.astype(bool) if not missing.any() else values


def _check_string(spec: ColumnSpec, column: pd.Series, issues: _Issues, unseen: str) -> pd.Series:
    missing = column.isna().to_numpy()
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        wrong = np.zeros(len(column), dtype=bool)
        text = column.astype(object).where(~missing, None)
    else:
        if is_text_dtype(dtype) and pd.api.types.infer_dtype(column, skipna=True) in (
            "string",
            "empty",
        ):
            wrong = np.zeros(len(column), dtype=bool)
        else:
            wrong = ~missing & ~_cell_mask(column, lambda v: isinstance(v, str))
        text = column
    raw = column.to_numpy(dtype=object)
    issues.cells(wrong, spec.name, lambda i: f"expected a string, got {_show(raw[i])}")
    _missing(spec, column, missing, issues)
    unseen_mask = np.zeros(len(column), dtype=bool)
    if spec.kind == "categorical" and spec.categories is not None:
        known = text.astype(str).isin(spec.categories).to_numpy() if len(text) else unseen_mask
        unseen_mask = ~missing & ~wrong & ~known
        allowed = ", ".join(map(repr, spec.categories[:10])) + (
            ", ..." if len(spec.categories) > 10 else ""
        )
        issues.cells(
            unseen_mask,
            spec.name,
            lambda i: (
                f"unseen category {_show(raw[i])}: not in the training data (allowed: {allowed})"
            ),
            warning=unseen == "flag",
        )
    if wrong.any():
        return column
    if spec.dtype == "category":
        categories = list(spec.categories or ())
        extra = sorted(set(text[unseen_mask].astype(str))) if unseen_mask.any() else []
        return pd.Series(
            pd.Categorical(text.where(~missing, None), categories=categories + extra),
            index=column.index,
            name=column.name,
        )
    if str(column.dtype) == spec.dtype or (spec.dtype == "str" and missing.any()):
        return column  # pandas 2 turns None into the string "None" with astype("str")
    try:
        return column.astype(spec.dtype)
    except (TypeError, ValueError):
        return column


def _check_datetime(
    spec: ColumnSpec, column: pd.Series, issues: _Issues, _unseen: str
) -> pd.Series:
    missing = column.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
    else:
        tz_aware = "UTC" in spec.dtype or "," in spec.dtype
        try:
            parsed = pd.to_datetime(column, errors="coerce", format="ISO8601", utc=tz_aware)
        except (TypeError, ValueError):
            parsed = pd.Series(pd.NaT, index=column.index)
    wrong = ~missing & parsed.isna().to_numpy()
    raw = column.to_numpy(dtype=object)
    issues.cells(
        wrong, spec.name, lambda i: f"expected a date/time (ISO 8601), got {_show(raw[i])}"
    )
    _missing(spec, column, missing, issues)
    naive = parsed.dt.tz_convert(None) if parsed.dt.tz is not None else parsed
    _range_warnings(spec, naive.to_numpy(dtype="datetime64[ns]"), issues, _naive_datetime)
    if wrong.any():
        return column
    try:
        return parsed.astype(spec.dtype)
    except (TypeError, ValueError):
        return parsed


def _naive_datetime(value: Any) -> np.datetime64:
    stamp = pd.Timestamp(value)
    if stamp.tz is not None:
        stamp = stamp.tz_convert(None)
    return np.datetime64(stamp.as_unit("ns"))


_CHECKS = {
    "numeric": _check_number,
    "integer": _check_number,
    "boolean": _check_boolean,
    "categorical": _check_string,
    "text": _check_string,
    "datetime": _check_datetime,
}
