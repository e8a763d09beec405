"""Two-sample drift statistics in plain numpy, each equal to its scipy counterpart.

Numeric tests work on *sorted* float64 arrays without missing values: the caller sorts each
column once and every statistic (Kolmogorov–Smirnov, Wasserstein, quantile bins) reuses the
sorted arrays, which is what makes a report over millions of rows cheap. Categorical tests
work on aligned count vectors (one count per category or bin, same order on both sides).

Scipy is used only for distribution functions (p-values): ``kstwo``, ``chi2`` and the exact
two-sample Kolmogorov–Smirnov path counts (see :mod:`loopml.monitoring.ks_exact`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from loopml.monitoring.ks_exact import ks_pvalue

#: Share given to an empty bin or category in PSI (Evidently's choice), so that a category
#: seen on one side only adds a large but finite term instead of an infinite one.
PSI_EPSILON = 1e-4


class KsResult(NamedTuple):
    statistic: float
    p_value: float


class ChiSquareResult(NamedTuple):
    statistic: float
    p_value: float
    dof: int


# -- preparation ------------------------------------------------------------------------
def sorted_float64(values: np.ndarray) -> np.ndarray:
    """``values`` as a sorted float64 array (one copy; sort it once, share it)."""
    return np.sort(np.asarray(values, dtype="float64"))


def quantiles_sorted(sorted_values: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``np.quantile(values, qs)`` (method "linear") read from already sorted values.

    Same arithmetic as numpy, without its partition pass over the whole column.
    """
    n = sorted_values.shape[0]
    qs = np.asarray(qs, dtype="float64")
    virtual = (n - 1) * qs
    previous = np.floor(virtual).astype(np.intp)
    gamma = virtual - previous
    above = virtual >= n - 1
    previous[above] = n - 1
    following = np.minimum(previous + 1, n - 1)
    a, b = sorted_values[previous], sorted_values[following]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def bin_counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``sorted_values`` in the bins ``[e_i, e_i+1)`` (last bin closed).

    Values beyond the outer edges go to the first or last bin, exactly as
    :func:`loopml.data.profile.bin_counts` counts them, but in ``O(bins log n)``.
    """
    inner = np.asarray(edges, dtype="float64")[1:-1]
    cuts = np.searchsorted(sorted_values, inner, side="left")
    return np.diff(np.concatenate(([0], cuts, [sorted_values.shape[0]]))).astype(np.int64)


# -- Kolmogorov–Smirnov and Wasserstein ---------------------------------------------------
#: Values per side handled at a time when walking two sorted arrays: temporary memory stays
#: a few MB whatever the number of rows.
BLOCK = 1 << 16


class EcdfWalk(NamedTuple):
    """What one walk along both empirical CDFs gives."""

    ks_scaled: int  # n1 * n2 * max|F_u - F_v|, an exact integer
    area: float  # integral of |F_u - F_v|: the Wasserstein-1 distance


def ecdf_walk(u_sorted: np.ndarray, v_sorted: np.ndarray, block: int = BLOCK) -> EcdfWalk:
    """Walk the merged order of two sorted samples, block by block.

    Each block holds the values in ``[c_k, c_k+1)`` for cut values taken every ``block``
    values of either side, so a run of equal values is never split and both CDFs are exact
    at the end of every run: that is all KS and the Wasserstein integral need. Merging two
    sorted runs with a stable sort is linear (timsort sees the two runs).
    """
    n1, n2 = int(u_sorted.shape[0]), int(v_sorted.shape[0])
    if n1 == 0 or n2 == 0:
        raise ValueError("ecdf_walk needs at least one value on each side")
    cuts = np.unique(np.concatenate((u_sorted[::block], v_sorted[::block])))
    u_at = np.append(np.searchsorted(u_sorted, cuts, side="left"), n1)
    v_at = np.append(np.searchsorted(v_sorted, cuts, side="left"), n2)
    largest, area = 0, 0.0
    last_value, last_gap = None, 0.0
    for k in range(cuts.shape[0]):
        u = u_sorted[u_at[k] : u_at[k + 1]]
        v = v_sorted[v_at[k] : v_at[k + 1]]
        both = np.concatenate((u, v))
        order = np.argsort(both, kind="stable")
        merged = both[order]
        cu = np.cumsum(order < u.shape[0], dtype=np.int64) + u_at[k]  # values of u <= x
        cv = np.arange(1, merged.shape[0] + 1, dtype=np.int64) + (u_at[k] + v_at[k]) - cu
        ends = np.append(np.flatnonzero(merged[1:] != merged[:-1]), merged.shape[0] - 1)
        largest = max(largest, int(np.abs(cu[ends] * n2 - cv[ends] * n1).max()))
        gap = np.abs(cu / n1 - cv / n2)  # |F_u - F_v| right of each value, as scipy computes it
        if last_value is not None:
            area += last_gap * float(merged[0] - last_value)
        area += float(np.dot(gap[:-1], np.diff(merged)))
        last_value, last_gap = merged[-1], float(gap[-1])
    return EcdfWalk(largest, area)


def ks_2samp(reference: np.ndarray, current: np.ndarray) -> KsResult:
    """Two-sided two-sample KS test, as ``scipy.stats.ks_2samp(ref, cur)`` (method "auto")."""
    return ks_sorted(sorted_float64(reference), sorted_float64(current))


def ks_sorted(u_sorted: np.ndarray, v_sorted: np.ndarray, block: int = BLOCK) -> KsResult:
    """KS statistic (exact, from integer counts) and scipy's "auto" p-value."""
    n1, n2 = int(u_sorted.shape[0]), int(v_sorted.shape[0])
    largest = ecdf_walk(u_sorted, v_sorted, block).ks_scaled
    g = np.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = largest // g  # D = h / lcm exactly
    statistic = h * 1.0 / lcm
    return KsResult(statistic, ks_pvalue(n1, n2, h, statistic))


def wasserstein_distance(u_values: np.ndarray, v_values: np.ndarray) -> float:
    """Wasserstein-1 distance, as ``scipy.stats.wasserstein_distance(u, v)``."""
    return wasserstein_sorted(sorted_float64(u_values), sorted_float64(v_values))


def wasserstein_sorted(u_sorted: np.ndarray, v_sorted: np.ndarray, block: int = BLOCK) -> float:
    """Wasserstein-1 distance of two sorted samples: the area between their CDFs.

    Equal sizes need no merge: the optimal transport pairs the i-th smallest values, so the
    distance is the mean absolute difference of the sorted arrays.
    """
    n1, n2 = u_sorted.shape[0], v_sorted.shape[0]
    if n1 == 0 or n2 == 0:
        raise ValueError("wasserstein_sorted needs at least one value on each side")
    if n1 != n2:
        return ecdf_walk(u_sorted, v_sorted, block).area
    total = 0.0
    for start in range(0, n1, block):
        total += float(
            np.abs(u_sorted[start : start + block] - v_sorted[start : start + block]).sum()
        )
    return total / n1


def mean_and_sum_of_squares(values: np.ndarray, block: int = BLOCK) -> tuple[float, float]:
    """Mean and sum of squared deviations, without a temporary copy of the whole array."""
    mean = float(values.mean())
    squares = 0.0
    for start in range(0, values.shape[0], block):
        deviation = values[start : start + block] - mean
        squares += float(np.dot(deviation, deviation))
    return mean, squares


def normed_wasserstein_sorted(u_sorted: np.ndarray, v_sorted: np.ndarray) -> float:
    """Wasserstein-1 distance divided by the reference's (``u``) standard deviation.

    The reference std uses ``ddof=0`` as Evidently does, so a value of 0.1 means "the
    current distribution moved by a tenth of the reference's spread". A constant reference
    gives 0 when nothing moved and ``inf`` otherwise (callers report that case apart).
    """
    distance = wasserstein_sorted(u_sorted, v_sorted)
    _, squares = mean_and_sum_of_squares(u_sorted)
    spread = float(np.sqrt(squares / u_sorted.shape[0]))
    if spread == 0.0:
        return 0.0 if distance == 0.0 else float("inf")
    return distance / spread


# -- frequencies ------------------------------------------------------------------------
def chi2_contingency_2xk(
    reference_counts: np.ndarray, current_counts: np.ndarray, *, correction: bool = True
) -> ChiSquareResult:
    """Chi-square test of the 2×k table (reference row, current row).

    Equals ``scipy.stats.chi2_contingency(np.vstack([ref, cur]), correction=correction)``,
    including Yates' continuity correction for a 2×2 table. Categories absent on both sides
    are dropped first (scipy would refuse a zero expected frequency).
    """
    from scipy.stats import chi2

    ref = np.asarray(reference_counts, dtype="float64")
    cur = np.asarray(current_counts, dtype="float64")
    keep = (ref + cur) > 0
    observed = np.vstack((ref[keep], cur[keep]))
    if observed.shape[1] == 0 or observed.sum(axis=1).min() <= 0:
        raise ValueError("chi2_contingency_2xk needs counts on both sides")
    dof = observed.shape[1] - 1
    if dof == 0:
        return ChiSquareResult(0.0, 1.0, 0)
    total = observed.sum()
    expected = np.multiply.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    if dof == 1 and correction:
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return ChiSquareResult(statistic, float(chi2.sf(statistic, dof)), dof)


def jensen_shannon(p: np.ndarray, q: np.ndarray, base: float | None = None) -> float:
    """Jensen–Shannon *distance* of two frequency vectors (normalised here).

    Equals ``scipy.spatial.distance.jensenshannon(p, q, base)``: natural logarithm by
    default, so it lies in ``[0, sqrt(ln 2)] ≈ [0, 0.833]``; with ``base=2`` in ``[0, 1]``.
    """
    p = np.asarray(p, dtype="float64")
    q = np.asarray(q, dtype="float64")
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    divergence = _relative_entropy(p, m).sum() + _relative_entropy(q, m).sum()
    if base is not None:
        divergence /= np.log(base)
    return float(np.sqrt(divergence / 2.0))


def _relative_entropy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``scipy.special.rel_entr`` for ``y >= x/2`` (always true against the mixture)."""
    out = np.zeros_like(x)
    positive = x > 0
    out[positive] = x[positive] * np.log(x[positive] / y[positive])
    return out


def psi(
    reference_counts: np.ndarray, current_counts: np.ndarray, *, epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index: ``sum((r - c) * ln(r / c))`` over bin shares.

    Shares of 0 become ``epsilon`` (default 1e-4) so that an empty bin adds a finite term.
    Conventional reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
    """
    ref = np.asarray(reference_counts, dtype="float64")
    cur = np.asarray(current_counts, dtype="float64")
    ref_share = np.where(ref > 0, ref / ref.sum(), epsilon)
    cur_share = np.where(cur > 0, cur / cur.sum(), epsilon)
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))
