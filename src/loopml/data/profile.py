"""Reference profiles of frames: the summary that later drift and quality checks compare to.

Numeric columns get quantile bin edges computed from the reference data; current data is
later counted into the same edges with :func:`bin_counts`, so both sides of a drift test use
one binning rule. Everything returned is plain JSON-serialisable data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import require_int, require_unique_columns
from loopml.data.schema import (
    column_kind,
    distinct_count,
    numeric_values,
    value_range,
)

QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
OTHER = "__other__"


def profile_frame(df: pd.DataFrame, *, bins: int = 10, max_categories: int = 50) -> dict[str, Any]:
    """Summarise every column of ``df``: missing values, distinct values, ranges, distributions.

    Numeric and integer columns get ``min, max, mean, std`` (sample std, ``ddof=1``),
    ``quantiles``, quantile ``bins`` edges and ``bin_counts`` over their finite values
    (``n_inf`` counts the infinities left out). Categorical and boolean columns get
    ``frequencies`` of their top ``max_categories`` values (keys are strings) plus
    ``"__other__"`` for the rest; text columns get ``mean_length``. Never raises on empty,
    all-missing or constant columns: undefined statistics are ``None``.
    """
    require_int("bins", bins, minimum=1)
    require_int("max_categories", max_categories, minimum=0)
    require_unique_columns(df, "profile_frame")
    columns = {
        str(label): _profile_column(df.iloc[:, position], bins, max_categories)
        for position, label in enumerate(df.columns)
    }
    return {"n_rows": int(df.shape[0]), "n_columns": int(df.shape[1]), "columns": columns}


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Deduplicated quantile bin edges of the finite values (``bins + 1`` at most).

    A constant column gets its value twice (one bin); no finite value gives ``[]``.
    """
    finite = _finite(values)
    if finite.size == 0:
        return []
    edges = np.unique(_quantiles(finite, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    return [float(e) for e in edges]


def bin_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Count the finite ``values`` into the bins ``[e_i, e_i+1)`` (the last bin is closed).

    Values outside the edges are counted in the first or last bin, so current data can be
    binned against reference edges without losing rows; the counts sum to the number of
    finite values (or are ``[]`` when there are fewer than two edges).
    """
    if len(edges) < 2:
        return []
    finite = _finite(values)
    index = np.searchsorted(np.asarray(edges[1:-1], dtype="float64"), finite, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(edges) - 1)]


def _profile_column(column: pd.Series, bins: int, max_categories: int) -> dict[str, Any]:
    n_rows = len(column)
    n_missing = int(column.isna().sum())
    n_unique = distinct_count(column)
    kind = column_kind(column, max_categories=max_categories, n_unique=n_unique)
    out: dict[str, Any] = {
        "kind": kind,
        "n_missing": n_missing,
        "missing_rate": n_missing / n_rows if n_rows else 0.0,
        "n_unique": n_unique,
    }
    if kind in ("numeric", "integer"):
        out.update(_numeric_stats(column, kind, bins))
    elif kind == "datetime":
        out["min"], out["max"], _ = value_range(column, kind)
    elif kind in ("categorical", "boolean"):
        out["frequencies"] = _frequencies(column, max_categories)
    else:
        lengths = column.dropna().astype(str).str.len()
        out["mean_length"] = float(lengths.mean()) if len(lengths) else None
    return out


def _numeric_stats(column: pd.Series, kind: str, bins: int) -> dict[str, Any]:
    values = numeric_values(column)
    finite = _finite(values)
    low, high, _ = value_range(column, kind)
    quantiles: dict[str, float | None]
    if finite.size:
        qs = _quantiles(finite, np.array(list(QUANTILES.values())))
        quantiles = {k: float(q) for k, q in zip(QUANTILES, qs, strict=True)}
    else:
        quantiles = dict.fromkeys(QUANTILES)
    edges = quantile_edges(finite, bins)
    return {
        "min": low,
        "max": high,
        "mean": _finite_or_none(finite.mean) if finite.size else None,
        "std": _finite_or_none(lambda: finite.std(ddof=1)) if finite.size > 1 else None,
        "n_inf": int(np.isinf(values).sum()),
        "quantiles": quantiles,
        "bins": edges,
        "bin_counts": bin_counts(finite, edges),
    }


def _frequencies(column: pd.Series, max_categories: int) -> dict[str, int]:
    """Top values by count (ties broken by value, so the result is reproducible)."""
    counts = column.dropna().astype(str).value_counts(sort=False)
    pairs = zip(counts.index, counts.to_numpy().tolist(), strict=True)
    items = sorted(pairs, key=lambda kv: (-kv[1], kv[0]))
    top = {str(k): int(v) for k, v in items[:max_categories]}
    rest = sum(v for _, v in items[max_categories:])
    if rest:
        top[OTHER] = int(rest)
    return top


def _quantiles(finite: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Linear quantiles as pandas gives them; "nearest" when interpolating would overflow."""
    with np.errstate(all="ignore"):
        result = np.quantile(finite, qs)
    if not np.isfinite(result).all():  # e.g. between -1e308 and 1e308
        result = np.quantile(finite, qs, method="nearest")
    return result


def _finite_or_none(compute: Callable[[], Any]) -> float | None:
    """Mean/std of huge values can overflow: report them as undefined rather than inf."""
    with np.errstate(all="ignore"):
        value = float(compute())
    return value if np.isfinite(value) else None


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    return values[np.isfinite(values)]
