"""``drift_report``: is the current data still distributed like the reference?

Each column shared by both sides gets one statistical test, chosen by its kind and the
reference size (see :mod:`loopml.monitoring.column_tests`) unless ``tests=`` names one.
The reference may be a frame or a stored profile (``loopml.data.profile.profile_frame``).
Columns are compared one at a time; each numeric column is sorted once per side and every
statistic reads the sorted arrays.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from loopml.data.frames import as_frame, require_int
from loopml.errors import InvalidInput
from loopml.monitoring import column_tests
from loopml.monitoring.column_compare import compare_column
from loopml.monitoring.column_values import (
    NUMERIC,
    Side,
    is_profile,
    side_from_profile,
    side_from_series,
)
from loopml.monitoring.report import ColumnDrift, DriftReport

__all__ = ["DriftReport", "drift_report"]


@dataclass(frozen=True)
class _Choice:
    spec: column_tests.TestSpec | None  # None: default for the column's kind and size
    threshold: float | None  # None: the test's default (or the report-wide threshold)


def drift_report(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    share_drifted_columns: float = 0.5,
    max_sample_for_pvalue: int = 1000,
    categorical: Iterable[str] | None = None,
    p_value_threshold: float | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column.

    ``reference``: a DataFrame (or anything :func:`loopml.data.frames.as_frame` accepts) or
    a reference profile dict; ``current``: a DataFrame or the like. ``columns``: the
    columns to compare (default: all columns both sides have; name ``prediction`` or
    ``target`` here to watch prediction or label drift). ``tests``: per-column test,
    ``{"age": "psi", "city": ("chi2", 0.01)}``; ``threshold``: one threshold for every
    column without its own. ``share_drifted_columns``: the dataset drifts when at least
    this share of the compared columns drift. ``max_sample_for_pvalue``: references with at
    most this many rows get p-value tests by default, larger ones distance tests.
    ``categorical``: numeric columns to compare as categories (codes, zip codes, ...).
    ``p_value_threshold``: the level of p-value tests (KS, chi-square) that have no threshold
    of their own, leaving distance tests at theirs (``monitoring.drift_threshold``).
    """
    if not (isinstance(share_drifted_columns, int | float) and 0 < share_drifted_columns <= 1):
        raise InvalidInput(
            f"share_drifted_columns: must be a number in (0, 1], got {share_drifted_columns!r}"
        )
    require_int("max_sample_for_pvalue", max_sample_for_pvalue, minimum=0)
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or threshold <= 0
    ):
        raise InvalidInput(f"threshold: must be a finite number > 0, got {threshold!r}")
    if p_value_threshold is not None and (
        isinstance(p_value_threshold, bool)
        or not isinstance(p_value_threshold, int | float)
        or not 0 < p_value_threshold < 1
    ):
        raise InvalidInput(
            f"p_value_threshold: must be a number in (0, 1), got {p_value_threshold!r}"
        )

    profile = reference if is_profile(reference) else None
    ref_frame = None if profile is not None else as_frame(reference, "reference")
    cur_frame = as_frame(current, "current")
    ref_names = list(profile["columns"]) if profile is not None else list(ref_frame.columns)
    cur_names = list(cur_frame.columns)
    names, notes = _select_columns(columns, ref_names, cur_names)
    forced = _categorical_names(categorical, ref_names)
    choices = _parse_tests(tests, names)
    n_ref_rows = int(profile["n_rows"]) if profile is not None else int(ref_frame.shape[0])

    # Column objects are taken here, on the calling thread; workers only read them.
    work = [
        (
            name,
            profile["columns"][name] if profile is not None else ref_frame[name],
            cur_frame[name],
        )
        for name in names
    ]

    def one(item: tuple[str, Any, Any]) -> ColumnDrift:
        name, ref_column, cur_column = item
        as_categorical = name in forced
        if profile is not None:
            ref_side = side_from_profile(ref_column, n_ref_rows)
            as_categorical = as_categorical and ref_side.kind != NUMERIC  # bins, not categories
        else:
            ref_side = side_from_series(ref_column, as_categorical=as_categorical)
        cur_side = side_from_series(cur_column, as_categorical=as_categorical)
        choice = choices.get(name, _Choice(None, None))
        return _compare(
            name, ref_side, cur_side, choice, threshold, n_ref_rows, max_sample_for_pvalue,
            p_value_threshold,
        )

    results = _map_columns(one, work)
    if profile is not None:
        notes.append(
            "reference is a stored profile: numeric columns are compared on its quantile bins"
        )
    return DriftReport(
        columns={r.name: r for r in results},
        share_drifted_columns=float(share_drifted_columns),
        n_reference_rows=n_ref_rows,
        n_current_rows=int(cur_frame.shape[0]),
        reference_is_profile=profile is not None,
        notes=notes,
    )


def _compare(
    name: str,
    reference: Side,
    current: Side,
    choice: _Choice,
    threshold: float | None,
    n_ref_rows: int,
    max_sample_for_pvalue: int,
    p_value_threshold: float | None = None,
) -> ColumnDrift:
    return compare_column(
        name,
        reference,
        current,
        spec=choice.spec,
        threshold=choice.threshold if choice.threshold is not None else threshold,
        threshold_is_global=choice.threshold is None and threshold is not None,
        n_reference_rows=n_ref_rows,
        max_sample_for_pvalue=max_sample_for_pvalue,
        p_value_threshold=p_value_threshold,
    )


def _map_columns(one: Any, work: list[Any]) -> list[ColumnDrift]:
    """Compare columns on up to two threads: sorting and factorising release the GIL.

    Two, not more: each thread holds a column's sorted copies, so memory stays a few
    columns' worth whatever the number of CPUs.
    """
    workers = min(2, os.cpu_count() or 1, len(work))
    if workers <= 1:
        return [one(item) for item in work]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loopml-drift") as pool:
        return list(pool.map(one, work))


def _select_columns(
    columns: Sequence[str] | None, ref_names: list[str], cur_names: list[str]
) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput(f"columns: must be a list of column names, got {columns!r}")
        wanted = list(dict.fromkeys(columns))
        if not wanted:
            raise InvalidInput("columns: is empty; name at least one column, or pass None")
        for side, present in (("reference", ref_names), ("current", cur_names)):
            missing = [c for c in wanted if c not in set(present)]
            if missing:
                raise InvalidInput(
                    f"columns: {', '.join(map(repr, missing))} not in {side}; "
                    f"{side} has: {_listed(present)}"
                )
        return wanted, notes
    current = set(cur_names)
    shared = [c for c in ref_names if c in current]
    if not shared:
        raise InvalidInput(
            "reference and current have no column in common; reference has: "
            f"{_listed(ref_names)}; current has: {_listed(cur_names)}"
        )
    only_ref = [c for c in ref_names if c not in current]
    only_cur = [c for c in cur_names if c not in set(ref_names)]
    if only_ref:
        notes.append(f"not compared, only in reference: {_listed(only_ref)}")
    if only_cur:
        notes.append(f"not compared, only in current: {_listed(only_cur)}")
    return shared, notes


def _categorical_names(categorical: Iterable[str] | None, ref_names: list[str]) -> set[str]:
    if categorical is None:
        return set()
    if isinstance(categorical, str):
        categorical = [categorical]
    names = set(categorical)
    unknown = sorted(str(n) for n in names if n not in set(ref_names))
    if unknown:
        raise InvalidInput(
            f"categorical: {', '.join(map(repr, unknown))} not in reference; "
            f"reference has: {_listed(ref_names)}"
        )
    return names


def _parse_tests(tests: Mapping[str, Any] | None, names: list[str]) -> dict[str, _Choice]:
    if tests is None:
        return {}
    if not isinstance(tests, Mapping):
        raise InvalidInput(
            f"tests: must be a dict of column -> test name or (test name, threshold), "
            f"got {type(tests).__name__}"
        )
    choices = {}
    for column, value in tests.items():
        if column not in names:
            raise InvalidInput(
                f"tests: column {column!r} is not compared; compared columns: {_listed(names)}"
            )
        own_threshold = None
        if isinstance(value, tuple | list):
            if len(value) != 2:
                raise InvalidInput(
                    f"tests[{column!r}]: expected a test name or (test name, threshold), "
                    f"got {value!r}"
                )
            value, own_threshold = value
        spec = column_tests.resolve(column, value)
        if own_threshold is not None:
            own_threshold = column_tests.check_threshold(column, spec, own_threshold)
        choices[column] = _Choice(spec, own_threshold)
    return choices


def _listed(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = len(names) - limit
    return f"{shown}, ... ({more} more)" if more > 0 else (shown or "(none)")
