"""What a report keeps of each side of a column: counts for plots and a few statistics.

Both sides are counted on one axis, so they can be drawn over each other: shared bins for
numeric columns, shared categories for categorical ones. Everything is small (tens of
numbers per column) whatever the number of rows.
"""

from __future__ import annotations

import numpy as np

from loopml.monitoring.column_values import NUMERIC, Side, align_counts
from loopml.monitoring.report import ColumnSummary
from loopml.monitoring.stats import bin_counts_sorted, mean_and_sum_of_squares, quantiles_sorted

#: Equal-width bins of the numeric plots.
PLOT_BINS = 30

#: Plots span the central 99% of both sides; the end bins also count the values beyond,
#: so one extreme outlier does not squash the histogram into one bar.
PLOT_TAIL = 0.005

#: Categories drawn per column (the most frequent over both sides); the rest are summed.
PLOT_CATEGORIES = 20
OTHER_LABEL = "(other)"


def summary(side: Side, counts: list[int]) -> ColumnSummary:
    out = ColumnSummary(
        n_rows=side.n_rows,
        n_missing=side.n_missing,
        missing_rate=side.missing_rate,
        n_inf=side.n_inf,
        counts=counts,
    )
    if side.kind == NUMERIC and side.values is not None and side.values.size:
        values = side.values
        out.min, out.max = float(values[0]), float(values[-1])
        with np.errstate(all="ignore"):
            mean, squares = mean_and_sum_of_squares(values)
        out.mean = mean if np.isfinite(mean) else None
        std = float(np.sqrt(squares / (values.size - 1))) if values.size > 1 else None
        out.std = std if std is not None and np.isfinite(std) else None
    elif side.kind == NUMERIC and side.profile_stats:
        for key in ("mean", "std", "min", "max"):
            value = side.profile_stats.get(key)
            setattr(out, key, None if value is None else float(value))
    elif side.labels is not None:
        out.n_categories = int(side.labels.size)
    return out


def numeric_plot(reference: Side, current: Side) -> tuple[list[float], list[int], list[int]]:
    """Shared bin edges and both sides' counts in them.

    Against a profile the profile's own quantile bins are used (its counts are all there is).
    """
    if reference.values is None:
        if reference.edges is None or current.values is None:
            return [], [], []
        edges = reference.edges
        ref_counts = reference.bin_counts
    else:
        sides = [s.values for s in (reference, current) if s.values is not None and s.values.size]
        if not sides:
            return [], [], []
        tails = np.array([PLOT_TAIL, 1 - PLOT_TAIL])
        low = min(float(quantiles_sorted(v, tails)[0]) for v in sides)
        high = max(float(quantiles_sorted(v, tails)[1]) for v in sides)
        edges = np.array([low, high]) if low == high else np.linspace(low, high, PLOT_BINS + 1)
        ref_counts = _counts(reference.values, edges)
    cur_counts = _counts(current.values, edges)
    return [float(e) for e in edges], _ints(ref_counts), _ints(cur_counts)


def _counts(values: np.ndarray | None, edges: np.ndarray) -> np.ndarray:
    if values is None or values.size == 0:
        return np.zeros(len(edges) - 1, dtype=np.int64)
    return bin_counts_sorted(values, edges)


def categorical_plot(reference: Side, current: Side) -> tuple[list[str], list[int], list[int]]:
    """The most frequent categories over both sides (shares added), the rest as "(other)"."""
    labels, ref_counts, cur_counts = align_counts(reference, current)
    weight = ref_counts / max(ref_counts.sum(), 1) + cur_counts / max(cur_counts.sum(), 1)
    order = np.argsort(-weight, kind="stable")
    top, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    names = [str(labels[i]) for i in top]
    ref_top, cur_top = _ints(ref_counts[top]), _ints(cur_counts[top])
    if rest.size:
        names.append(f"{OTHER_LABEL} {rest.size} more")
        ref_top.append(int(ref_counts[rest].sum()))
        cur_top.append(int(cur_counts[rest].sum()))
    return names, ref_top, cur_top


def _ints(counts: np.ndarray | list[int] | None) -> list[int]:
    return [] if counts is None else [int(c) for c in counts]
