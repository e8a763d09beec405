"""Schema inference: what each column is, so requests can be validated and drift compared.

The schema is a plain JSON-serialisable dict, stored with a run and a model version. Every
column entry has the same keys (``name, dtype, kind, nullable, categories, min, max,
has_inf``), so readers never need to check which keys exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import require_int, require_unique_columns

KINDS = ("numeric", "integer", "boolean", "categorical", "datetime", "text")


def infer_schema(df: pd.DataFrame, *, max_categories: int = 50) -> dict[str, Any]:
    """Describe each column of ``df`` (order kept) as a plain, JSON-serialisable dict.

    ``kind`` follows the dtype; text columns with at most ``max_categories`` distinct values
    become ``"categorical"`` with their sorted values as ``categories``. ``nullable`` records
    whether this frame has missing values in the column. ``min``/``max`` ignore missing values
    and infinities (``has_inf`` says whether any were present); datetimes give ISO strings.
    """
    require_int("max_categories", max_categories, minimum=0)
    require_unique_columns(df, "infer_schema")
    columns = []
    for position, label in enumerate(df.columns):
        column = df.iloc[:, position]
        kind = column_kind(column, max_categories=max_categories)
        low, high, has_inf = value_range(column, kind)
        columns.append(
            {
                "name": str(label),
                "dtype": str(column.dtype),
                "kind": kind,
                "nullable": bool(column.isna().any()),
                "categories": _categories(column) if kind == "categorical" else None,
                "min": low,
                "max": high,
                "has_inf": has_inf,
            }
        )
    return {"columns": columns, "n_columns": len(columns)}


def column_kind(column: pd.Series, *, max_categories: int = 50, n_unique: int | None = None) -> str:
    """Classify a column as one of ``KINDS``; ``n_unique`` may be passed to avoid recounting.

    Unrecognised dtypes (timedelta, period, interval, complex, ...) are treated as ``"text"``.
    Object columns holding only booleans (and missing values) are ``"boolean"``.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if is_text_dtype(dtype):
        is_object = pd.api.types.is_object_dtype(dtype)
        if is_object and pd.api.types.infer_dtype(column, skipna=True) == "boolean":
            return "boolean"
        count = distinct_count(column) if n_unique is None else n_unique
        if 0 < count <= max_categories:
            return "categorical"
    return "text"


def is_text_dtype(dtype: object) -> bool:
    """True for ``object`` and the string dtypes (pandas 3 ``str``, ``string``, arrow strings)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def distinct_count(column: pd.Series) -> int:
    """Number of distinct non-missing values; unhashable objects are compared as strings."""
    try:
        return int(column.nunique(dropna=True))
    except TypeError:
        return int(column.dropna().astype(str).nunique())


def numeric_values(column: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing values (works for nullable and arrow dtypes)."""
    return column.to_numpy(dtype="float64", na_value=np.nan)


def value_range(column: pd.Series, kind: str) -> tuple[Any, Any, bool]:
    """Return ``(min, max, has_inf)`` as JSON-ready Python values, ``None`` when undefined.

    Integers stay exact Python ints; floats ignore NaN and infinities; datetimes are ISO
    strings. Other kinds have no range.
    """
    if kind == "integer":
        present = column.dropna()
        if present.empty:
            return None, None, False
        return int(present.min()), int(present.max()), False
    if kind == "numeric":
        values = numeric_values(column)
        finite = values[np.isfinite(values)]
        has_inf = bool(np.isinf(values).any())
        if finite.size == 0:
            return None, None, has_inf
        return float(finite.min()), float(finite.max()), has_inf
    if kind == "datetime":
        present = column.dropna()
        if present.empty:
            return None, None, False
        return present.min().isoformat(), present.max().isoformat(), False
    return None, None, False


def _categories(column: pd.Series) -> list[str]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.dtype.categories
    else:
        values = column.dropna().unique()
    return sorted({str(v) for v in values})
