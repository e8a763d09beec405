"""Our drift statistics give scipy's numbers (to 1e-9) on the same data, ties and odd sizes
included, so a report reads the same as the reference implementation would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon as scipy_js

from loopml.data.profile import bin_counts, quantile_edges
from loopml.monitoring import stats
from loopml.monitoring.ks_exact import outer_prob_inside_python

TOL = 1e-9

# scipy says when its exact KS p-value overflows and it switches to asymptotic; so do we.
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# Few distinct values make many ties, the hard case for ECDF statistics.
tied = st.integers(min_value=-3, max_value=3).map(float)
samples = st.lists(st.one_of(finite, tied), min_size=1, max_size=60)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(b))


def assert_ks_matches(a: np.ndarray, b: np.ndarray) -> None:
    ref = sps.ks_2samp(a, b)
    ours = stats.ks_2samp(a, b)
    assert close(ours.statistic, ref.statistic), (ours, ref)
    assert close(ours.p_value, ref.pvalue), (ours, ref)
    # tiny blocks: many block boundaries (a run of ties is never split across two)
    blocked = stats.ks_sorted(np.sort(a), np.sort(b), block=2)
    assert (blocked.statistic, blocked.p_value) == (ours.statistic, ours.p_value)


def assert_wasserstein_matches(a: np.ndarray, b: np.ndarray) -> None:
    expected = sps.wasserstein_distance(a, b)
    assert close(stats.wasserstein_distance(a, b), expected)
    sa, sb = np.sort(a), np.sort(b)
    for block in (1, 3, 64):
        assert close(stats.wasserstein_sorted(sa, sb, block=block), expected)
        assert close(stats.ecdf_walk(sa, sb, block=block).area, expected)  # also n1 == n2


@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_ks_and_wasserstein_match_scipy_on_generated_samples(a, b):
    a, b = np.array(a), np.array(b)
    assert_ks_matches(a, b)
    assert_wasserstein_matches(a, b)


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [
        (1, 1, 0.0),
        (1, 50, 0.3),
        (37, 37, 0.2),  # equal sizes: the closed-form exact p-value
        (100, 250, 0.1),
        (999, 1000, 0.05),
        (3000, 7000, 0.02),  # exact path, unequal sizes, large lcm
        (10_000, 10_001, 0.01),  # just above scipy's exact limit: asymptotic
        (20_000, 5_000, 0.0),
    ],
)
def test_ks_and_wasserstein_match_scipy_on_fixed_sizes(n1, n2, shift):
    rng = np.random.default_rng(n1 * 7 + n2)
    a = rng.normal(size=n1)
    b = rng.normal(shift, 1.0, size=n2)
    assert_ks_matches(a, b)
    assert_wasserstein_matches(a, b)


def test_ties_single_values_and_identical_samples():
    rng = np.random.default_rng(3)
    tied_a = rng.integers(0, 4, 500).astype(float)
    tied_b = rng.integers(1, 5, 300).astype(float)
    for a, b in [
        (tied_a, tied_b),
        (np.array([2.0]), np.array([2.0])),
        (np.array([2.0]), np.array([3.0])),
        (np.full(40, 1.5), np.full(60, 1.5)),
        (np.full(40, 1.5), tied_b),
        (tied_a, tied_a.copy()),
    ]:
        assert_ks_matches(a, b)
        assert_wasserstein_matches(a, b)
    assert stats.ks_2samp(tied_a, tied_a).statistic == 0.0
    assert stats.ks_2samp(tied_a, tied_a).p_value == 1.0


def test_normed_wasserstein_divides_by_reference_std():
    rng = np.random.default_rng(4)
    a, b = np.sort(rng.normal(0, 2, 4000)), np.sort(rng.normal(1, 2, 3000))
    expected = sps.wasserstein_distance(a, b) / np.std(a)
    assert close(stats.normed_wasserstein_sorted(a, b), expected)
    mean, squares = stats.mean_and_sum_of_squares(a, block=100)
    assert close(mean, a.mean()) and close(np.sqrt(squares / a.size), np.std(a))
    assert 0.4 < expected < 0.6  # a shift of half a standard deviation reads as ~0.5
    constant = np.full(10, 3.0)
    assert stats.normed_wasserstein_sorted(constant, constant) == 0.0
    assert stats.normed_wasserstein_sorted(constant, b) == float("inf")


def test_python_exact_ks_path_count_equals_scipys_compiled_one():
    from scipy.stats._stats_pythran import _compute_outer_prob_inside_method as compiled

    rng = np.random.default_rng(5)
    for _ in range(40):
        m, n = (int(v) for v in rng.integers(2, 120, 2))
        g = int(np.gcd(m, n))
        h = int(rng.integers(1, m * n // g + 1))
        assert close(outer_prob_inside_python(m, n, g, h), compiled(m, n, g, h))


counts = st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(counts, counts, st.booleans())
def test_chi2_matches_scipy_chi2_contingency(ref, cur, correction):
    size = min(len(ref), len(cur))
    ref, cur = np.array(ref[:size]), np.array(cur[:size])
    keep = (ref + cur) > 0
    if ref.sum() == 0 or cur.sum() == 0:
        with pytest.raises(ValueError):
            stats.chi2_contingency_2xk(ref, cur, correction=correction)
        return
    ours = stats.chi2_contingency_2xk(ref, cur, correction=correction)
    expected = sps.chi2_contingency(np.vstack([ref[keep], cur[keep]]), correction=correction)
    assert close(ours.statistic, expected.statistic)
    assert close(ours.p_value, expected.pvalue)
    assert ours.dof == expected.dof


def test_chi2_applies_yates_correction_on_2x2_tables_only():
    table = np.array([[30, 10], [18, 22]])
    with_yates = stats.chi2_contingency_2xk(table[0], table[1])
    without = stats.chi2_contingency_2xk(table[0], table[1], correction=False)
    assert with_yates.statistic < without.statistic
    assert close(with_yates.p_value, sps.chi2_contingency(table).pvalue)
    assert close(without.p_value, sps.chi2_contingency(table, correction=False).pvalue)


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_jensen_shannon_matches_scipy(p, q):
    size = min(len(p), len(q))
    p, q = np.array(p[:size], dtype=float), np.array(q[:size], dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return
    assert close(stats.jensen_shannon(p, q), scipy_js(p, q))
    assert close(stats.jensen_shannon(p, q, base=2), scipy_js(p, q, base=2))


def test_jensen_shannon_bounds():
    assert stats.jensen_shannon([1, 2, 3], [2, 4, 6]) == 0.0
    disjoint = stats.jensen_shannon([1, 0], [0, 1])
    assert close(disjoint, np.sqrt(np.log(2)))  # natural log: at most sqrt(ln 2)
    assert close(stats.jensen_shannon([1, 0], [0, 1], base=2), 1.0)


def test_psi_matches_the_textbook_formula_with_an_epsilon_for_empty_bins():
    ref = np.array([100, 200, 300, 400])
    cur = np.array([150, 150, 350, 350])
    r, c = ref / ref.sum(), cur / cur.sum()
    assert close(stats.psi(ref, cur), float(np.sum((r - c) * np.log(r / c))))
    assert stats.psi(ref, ref * 3) == 0.0
    empty = stats.psi([50, 50, 0], [40, 40, 20])  # a bin new in current: finite, large
    r, c = np.array([0.5, 0.5, 1e-4]), np.array([0.4, 0.4, 0.2])
    assert close(empty, float(np.sum((r - c) * np.log(r / c))))
    assert np.isfinite(empty) and empty > 1


def test_quantiles_and_bin_counts_from_sorted_values_match_numpy_and_profiles():
    rng = np.random.default_rng(6)
    for values in [rng.normal(size=1001), rng.integers(0, 5, 777).astype(float), np.ones(3)]:
        ordered = np.sort(values)
        qs = np.linspace(0, 1, 11)
        np.testing.assert_array_equal(stats.quantiles_sorted(ordered, qs), np.quantile(values, qs))
        edges = quantile_edges(values, 10)
        probe = rng.normal(size=500) * 3
        assert list(stats.bin_counts_sorted(np.sort(probe), np.array(edges))) == bin_counts(
            probe, edges
        )
