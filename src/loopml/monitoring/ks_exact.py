"""P-values of the two-sided two-sample Kolmogorov–Smirnov test, as scipy's method "auto".

Up to 10,000 values per side the p-value is exact (lattice-path counting, Hodges 1958 as
scipy implements it); above, or when the exact count overflows, it is Smirnov's asymptotic
distribution ``kstwo.sf(D, round(n1*n2/(n1+n2)))``. The unequal-size exact count uses
scipy's compiled routine when it is importable and an equivalent Python loop otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: scipy's ``MAX_AUTO_N``: exact p-values while both samples have at most this many values.
MAX_EXACT_N = 10_000


def ks_pvalue(n1: int, n2: int, h: int, statistic: float) -> float:
    """P-value of ``D = h / lcm(n1, n2)`` for samples of ``n1`` and ``n2`` values."""
    if max(n1, n2) <= MAX_EXACT_N:
        exact = _exact_pvalue(n1, n2, h)
        if exact is not None:
            return exact
    from scipy.stats import kstwo

    m, n = sorted((float(n1), float(n2)), reverse=True)
    en = m * n / (m + n)
    return float(np.clip(kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


def _exact_pvalue(n1: int, n2: int, h: int) -> float | None:
    """Exact p-value, or None when the computation loses precision (scipy then goes asymp)."""
    if h == 0:
        return 1.0
    g = math.gcd(n1, n2)
    try:
        with np.errstate(invalid="raise", over="raise"):
            equal = n1 == n2
            prob = _prob_outside_square(n1, h) if equal else _outer_prob_inside()(n1, n2, g, h)
    except (FloatingPointError, OverflowError):
        return None
    if not 0.0 <= prob <= 1.0:
        return None
    return float(prob)


def _prob_outside_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n), by the alternating series in Horner form (scipy's algorithm)."""
    total = 0.0
    k = n // h
    while k >= 0:
        term = 1.0
        for j in range(h):
            term = (n - k * h - j) * term / (n + k * h + j + 1)
        total = term * (1.0 - total)
        k -= 1
    return 2 * total


def _outer_prob_inside() -> Callable[[int, int, int, int], float]:
    try:
        from scipy.stats._stats_pythran import (  # compiled, same algorithm
            _compute_outer_prob_inside_method as compiled,
        )
    except ImportError:  # pragma: no cover - depends on the scipy build
        return outer_prob_inside_python
    return compiled  # type: ignore[no-any-return]


def outer_prob_inside_python(m: int, n: int, g: int, h: int) -> float:
    """Share of lattice paths from (0,0) to (m,n) leaving the band |x/m - y/n| < h/lcm.

    Viehmann's numerically stable recursion for ``1 - p`` inside Hodges' "inside method",
    keeping one sliding column of the path-count matrix.
    """
    if m < n:
        m, n = n, m
    mg, ng = m // g, n // g
    minj, maxj = 0, min(int(np.ceil(h / mg)), n + 1)
    curlen = maxj - minj
    column = np.ones(min(2 * maxj + 2, n + 1), dtype=np.float64)
    column[minj:maxj] = 0.0
    for i in range(1, m + 1):
        lastminj, lastlen = minj, curlen
        minj = min(max(int(np.floor((ng * i - h) / mg)) + 1, 0), n)
        maxj = min(int(np.ceil((ng * i + h) / mg)), n + 1)
        if maxj <= minj:
            return 1.0
        val = 0.0 if minj == 0 else 1.0
        for jj in range(maxj - minj):
            j = jj + minj
            val = (float(column[jj + minj - lastminj]) * i + val * j) / (i + j)
            column[jj] = val
        curlen = maxj - minj
        if lastlen > curlen:
            column[maxj - minj : maxj - minj + (lastlen - curlen)] = 1
    return float(column[maxj - minj - 1])
