"""One column of one side (reference or current), reduced to what the drift tests compare.

Numeric columns become one sorted float64 array of their finite values (sorted once, shared
by every statistic); categorical columns become category labels (as strings, the way
reference profiles key them) with their counts. A reference *profile* gives quantile bins
and their counts, or category frequencies, in place of raw values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.profile import OTHER

#: Kinds a side can have. "empty" means no usable value at all (all missing).
NUMERIC, CATEGORICAL, DATETIME, TEXT, EMPTY = "numeric", "categorical", "datetime", "text", "empty"

#: Numeric columns with at most this many distinct values (both sides together) are
#: compared as categories, as Evidently does: a KS test on a 0/1 flag says little.
LOW_CARDINALITY = 5

#: A text column with more distinct values than this, and more than half of its rows
#: distinct, is treated as free text or an identifier and not tested.
MAX_CATEGORIES = 1000


@dataclass
class Side:
    """What one side holds for one column."""

    kind: str
    dtype: str
    n_rows: int
    n_missing: int
    n_inf: int = 0
    values: np.ndarray | None = None  # numeric, raw: sorted finite float64 values
    edges: np.ndarray | None = None  # numeric, from a profile: quantile bin edges
    bin_counts: np.ndarray | None = None  # numeric, from a profile: counts in those bins
    labels: np.ndarray | None = None  # categorical: distinct labels (str, object array)
    counts: np.ndarray | None = None  # categorical: count of each label
    from_profile: bool = False
    profile_stats: dict[str, Any] | None = None  # mean/std/min/max given by a profile

    @property
    def n_values(self) -> int:
        """Values a test can use: not missing, and finite for numeric columns."""
        if self.kind == NUMERIC:
            if self.values is not None:
                return int(self.values.shape[0])
            return int(self.bin_counts.sum()) if self.bin_counts is not None else 0
        if self.kind == CATEGORICAL and self.counts is not None:
            return int(self.counts.sum())
        return self.n_rows - self.n_missing

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n_rows if self.n_rows else 0.0


# -- frames -----------------------------------------------------------------------------
def side_from_series(column: pd.Series, *, as_categorical: bool = False) -> Side:
    """Reduce a frame column to a :class:`Side` (one sort or one factorize, no copies kept)."""
    dtype = column.dtype
    n_rows = int(column.shape[0])
    base = {"dtype": str(dtype), "n_rows": n_rows}
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical_from_codes(column, base)
    if pd.api.types.is_bool_dtype(dtype):
        return _categorical_from_values(column, base)
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return Side(DATETIME, n_missing=int(column.isna().sum()), **base)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if as_categorical:
            return _categorical_from_values(column, base)
        return _numeric(column.to_numpy(dtype="float64", na_value=np.nan), base)
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(column, skipna=True)
        if inferred == "empty":
            return Side(EMPTY, n_missing=n_rows, **base)
        if inferred in ("floating", "integer", "mixed-integer-float", "decimal") and not (
            as_categorical
        ):
            return _numeric(pd.to_numeric(column).to_numpy(dtype="float64", na_value=np.nan), base)
        if inferred.startswith("datetime") or inferred in ("date", "period"):
            return Side(DATETIME, n_missing=int(column.isna().sum()), **base)
    return _categorical_from_values(column, base)


def _numeric(values: np.ndarray, base: dict[str, Any]) -> Side:
    ordered = np.sort(values)  # NaN sort last, -inf first, +inf just before the NaN
    n_missing = int(np.count_nonzero(np.isnan(values)))
    valid = ordered[: ordered.shape[0] - n_missing]
    low = int(np.searchsorted(valid, -np.inf, side="right"))
    high = int(np.searchsorted(valid, np.inf, side="left"))
    finite = valid[low:high]
    n_inf = low + (valid.shape[0] - high)
    kind = NUMERIC if finite.size or n_inf else EMPTY
    return Side(kind, n_missing=n_missing, n_inf=n_inf, values=finite, **base)


def _categorical_from_codes(column: pd.Series, base: dict[str, Any]) -> Side:
    codes = column.cat.codes.to_numpy().astype(np.intp)  # a copy: never touch the user's codes
    n_categories = len(column.cat.categories)
    codes += 1  # missing (-1) lands in slot 0
    counts = np.bincount(codes, minlength=n_categories + 1)
    labels = np.array([str(c) for c in column.cat.categories], dtype=object)
    return _categorical(labels, counts[1:], int(counts[0]), base)


def _categorical_from_values(column: pd.Series, base: dict[str, Any]) -> Side:
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.intp)
    if not codes.flags.writeable:
        codes = codes.copy()
    codes += 1  # in place (factorize's own array): missing (-1) lands in slot 0
    counts = np.bincount(codes, minlength=len(uniques) + 1)
    labels = np.array([str(u) for u in np.asarray(uniques, dtype=object)], dtype=object)
    return _categorical(labels, counts[1:], int(counts[0]), base)


def _categorical(labels: np.ndarray, counts: np.ndarray, n_missing: int, base: dict) -> Side:
    labels, counts = merge_labels(labels, counts)
    present = counts > 0
    labels, counts = labels[present], counts[present]
    n_values = int(counts.sum())
    if n_values == 0:
        return Side(EMPTY, n_missing=n_missing, **base)
    kind = CATEGORICAL
    if labels.size > MAX_CATEGORIES and labels.size > n_values / 2:
        kind = TEXT
    return Side(kind, n_missing=n_missing, labels=labels, counts=counts.astype(np.int64), **base)


def merge_labels(labels: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add up the counts of labels that read the same as strings (``1`` and ``"1"``)."""
    codes, uniques = pd.factorize(pd.Index(labels, dtype=object))
    if len(uniques) == len(labels):
        return labels, counts
    summed = np.bincount(codes, weights=counts, minlength=len(uniques)).astype(np.int64)
    return np.asarray(uniques, dtype=object), summed


def low_cardinality_values(side: Side, limit: int = LOW_CARDINALITY) -> np.ndarray | None:
    """The distinct values of a raw numeric side when there are at most ``limit`` of them.

    Walks the sorted array with ``searchsorted``: ``O(limit log n)``, no pass over the data.
    """
    values = side.values
    if values is None or values.size == 0:
        return None
    found = []
    start = 0
    while start < values.size:
        if len(found) == limit:
            return None
        found.append(values[start])
        start = int(np.searchsorted(values, values[start], side="right"))
    return np.array(found)


def numeric_as_categorical(side: Side, distinct: np.ndarray) -> Side:
    """A raw numeric side counted over the given distinct values (labels as strings)."""
    assert side.values is not None
    left = np.searchsorted(side.values, distinct, side="left")
    right = np.searchsorted(side.values, distinct, side="right")
    labels = np.array([_number_label(v) for v in distinct], dtype=object)
    return Side(
        CATEGORICAL,
        dtype=side.dtype,
        n_rows=side.n_rows,
        n_missing=side.n_missing,
        n_inf=side.n_inf,
        labels=labels,
        counts=(right - left).astype(np.int64),
    )


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# -- profiles ---------------------------------------------------------------------------
def is_profile(data: Any) -> bool:
    """True for the dict :func:`loopml.data.profile.profile_frame` returns."""
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("columns"), Mapping)
        and "n_rows" in data
        and all(isinstance(c, Mapping) and "kind" in c for c in data["columns"].values())
    )


def side_from_profile(entry: Mapping[str, Any], n_rows: int) -> Side:
    """A reference :class:`Side` from one column entry of a profile."""
    kind = str(entry.get("kind"))
    n_missing = int(entry.get("n_missing") or 0)
    base = {"dtype": kind, "n_rows": n_rows, "n_missing": n_missing, "from_profile": True}
    if kind in ("numeric", "integer"):
        edges = np.asarray(entry.get("bins") or [], dtype="float64")
        counts = np.asarray(entry.get("bin_counts") or [], dtype=np.int64)
        stats = {k: entry.get(k) for k in ("mean", "std", "min", "max")}
        if edges.size < 2 or counts.sum() == 0:
            return Side(EMPTY, n_inf=int(entry.get("n_inf") or 0), profile_stats=stats, **base)
        return Side(
            NUMERIC,
            n_inf=int(entry.get("n_inf") or 0),
            edges=edges,
            bin_counts=counts,
            profile_stats=stats,
            **base,
        )
    if kind in ("categorical", "boolean"):
        frequencies = entry.get("frequencies") or {}
        labels = np.array([str(k) for k in frequencies], dtype=object)
        counts = np.array([int(v) for v in frequencies.values()], dtype=np.int64)
        if counts.sum() == 0:
            return Side(EMPTY, **base)
        return Side(CATEGORICAL, labels=labels, counts=counts, **base)
    if kind == "datetime":
        return Side(DATETIME, **base)
    return Side(TEXT, **base)


def align_counts(reference: Side, current: Side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category labels of both sides and each side's counts over them (same order).

    Reference labels come first in their order, then labels new in current. Against a
    profile that lumped its rare categories into ``"__other__"``, current labels the profile
    does not name are counted there too.
    """
    assert reference.labels is not None and reference.counts is not None
    assert current.labels is not None and current.counts is not None
    ref_index = pd.Index(reference.labels, dtype=object)
    position = ref_index.get_indexer(pd.Index(current.labels, dtype=object))
    unseen = position < 0
    if reference.from_profile and OTHER in ref_index and unseen.any():
        position[unseen] = ref_index.get_loc(OTHER)
        unseen[:] = False
    new_labels = current.labels[unseen]
    labels = np.concatenate((reference.labels, new_labels))
    position[unseen] = np.arange(reference.labels.size, labels.size)
    ref_counts = np.zeros(labels.size, dtype=np.int64)
    ref_counts[: reference.labels.size] = reference.counts
    cur_counts = np.zeros(labels.size, dtype=np.int64)
    np.add.at(cur_counts, position, current.counts)
    return labels, ref_counts, cur_counts
