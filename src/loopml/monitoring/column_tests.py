"""The drift tests a column can get: names, defaults, allowed thresholds, and how to run them.

Defaults follow Evidently, so results read the same for users coming from it: p-value tests
(KS, chi-square) while the reference is small, distances (normed Wasserstein,
Jensen–Shannon) once it is large, because with many rows a p-value flags differences far
too small to matter. PSI is available for both kinds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loopml.errors import InvalidInput
from loopml.monitoring import stats
from loopml.monitoring.column_values import CATEGORICAL, NUMERIC, Side, align_counts

#: Quantile bins of the reference for binned tests on numeric columns (PSI, chi-square,
#: Jensen–Shannon): deciles, the same bins a stored profile holds.
BINS = 10


@dataclass(frozen=True)
class TestSpec:
    """One drift test: what it reads, and how its threshold is read."""

    name: str
    label: str
    kinds: frozenset[str]
    uses_p_value: bool  # drifted when p < threshold; otherwise when statistic >= threshold
    default_threshold: float
    max_threshold: float  # thresholds must lie in (0, max_threshold] (p-values: < 1)
    needs_raw_values: bool  # cannot run on a profile's bins

    def drifted(self, statistic: float, p_value: float | None, threshold: float) -> bool:
        if self.uses_p_value:
            return p_value is not None and p_value < threshold
        return statistic >= threshold


_BOTH = frozenset({NUMERIC, CATEGORICAL})
_NUMERIC_ONLY = frozenset({NUMERIC})

TESTS: dict[str, TestSpec] = {
    "ks": TestSpec(
        name="ks",
        label="Kolmogorov-Smirnov p-value",
        kinds=_NUMERIC_ONLY,
        uses_p_value=True,
        default_threshold=0.05,
        max_threshold=1.0,
        needs_raw_values=True,
    ),
    "wasserstein": TestSpec(
        name="wasserstein",
        label="Wasserstein distance (normed)",
        kinds=_NUMERIC_ONLY,
        uses_p_value=False,
        default_threshold=0.1,
        max_threshold=math.inf,
        needs_raw_values=True,
    ),
    "chi2": TestSpec(
        name="chi2",
        label="chi-square p-value",
        kinds=_BOTH,
        uses_p_value=True,
        default_threshold=0.05,
        max_threshold=1.0,
        needs_raw_values=False,
    ),
    "jensenshannon": TestSpec(
        name="jensenshannon",
        label="Jensen-Shannon distance",
        kinds=_BOTH,
        uses_p_value=False,
        default_threshold=0.1,
        max_threshold=1.0,
        needs_raw_values=False,
    ),
    "psi": TestSpec(
        name="psi",
        label="population stability index",
        kinds=_BOTH,
        uses_p_value=False,
        default_threshold=0.2,
        max_threshold=math.inf,
        needs_raw_values=False,
    ),
}
ALIASES = {"js": "jensenshannon", "chisquare": "chi2", "chi-square": "chi2", "kstest": "ks"}


def allowed_names() -> str:
    return ", ".join([*TESTS, *(f"{a} (= {n})" for a, n in ALIASES.items())])


def resolve(column: str, name: object) -> TestSpec:
    """The spec of a test name given by the user; ``InvalidInput`` naming the column else."""
    key = ALIASES.get(str(name).lower(), str(name).lower()) if isinstance(name, str) else None
    if key not in TESTS:
        raise InvalidInput(
            f"tests[{column!r}]: unknown drift test {name!r}; choose one of: {allowed_names()}"
        )
    return TESTS[key]


def check_threshold(column: str, spec: TestSpec, threshold: object) -> float:
    """Validate a threshold for ``spec``: a finite number in (0, max] (p-values below 1)."""
    where = "threshold" if column == "*" else f"tests[{column!r}]"
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise InvalidInput(f"{where}: threshold must be a number, got {threshold!r}")
    value = float(threshold)
    upper_ok = value < 1 if spec.uses_p_value else value <= spec.max_threshold
    if not (math.isfinite(value) and value > 0 and upper_ok):
        bound = (
            "0 < threshold < 1 (a significance level)"
            if spec.uses_p_value
            else (
                f"0 < threshold <= {spec.max_threshold:g}"
                if math.isfinite(spec.max_threshold)
                else "a finite threshold > 0"
            )
        )
        raise InvalidInput(f"{where}: {spec.name} needs {bound}, got {threshold!r}")
    return value


def default_test(
    kind: str, n_reference_rows: int, max_sample_for_pvalue: int, *, binned: bool
) -> str:
    """Evidently's rule: p-values for small references, distances for large ones.

    ``binned`` (a profile reference, numeric column) has no raw values: PSI on its deciles.
    """
    small = n_reference_rows <= max_sample_for_pvalue
    if kind == NUMERIC:
        if binned:
            return "psi"
        return "ks" if small else "wasserstein"
    return "chi2" if small else "jensenshannon"


@dataclass
class Outcome:
    statistic: float
    p_value: float | None
    labels: np.ndarray | None = None  # categories or bins compared (for the report)


def run_numeric(spec: TestSpec, reference: Side, current: Side) -> Outcome:
    """Run ``spec`` on two numeric sides (current always raw; reference raw or binned)."""
    assert current.values is not None
    if spec.name == "ks":
        assert reference.values is not None
        result = stats.ks_sorted(reference.values, current.values)
        return Outcome(result.statistic, result.p_value)
    if spec.name == "wasserstein":
        assert reference.values is not None
        return Outcome(stats.normed_wasserstein_sorted(reference.values, current.values), None)
    edges, ref_counts = reference_bins(reference)
    cur_counts = stats.bin_counts_sorted(current.values, edges)
    return run_counts(spec, ref_counts, cur_counts)


def reference_bins(reference: Side) -> tuple[np.ndarray, np.ndarray]:
    """Quantile bin edges of the reference and its counts in them (a profile stores both)."""
    if reference.edges is not None and reference.bin_counts is not None:
        return reference.edges, reference.bin_counts
    assert reference.values is not None
    edges = np.unique(stats.quantiles_sorted(reference.values, np.linspace(0, 1, BINS + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    return edges, stats.bin_counts_sorted(reference.values, edges)


def run_categorical(spec: TestSpec, reference: Side, current: Side) -> Outcome:
    labels, ref_counts, cur_counts = align_counts(reference, current)
    outcome = run_counts(spec, ref_counts, cur_counts)
    outcome.labels = labels
    return outcome


def run_counts(spec: TestSpec, ref_counts: np.ndarray, cur_counts: np.ndarray) -> Outcome:
    """A frequency test on aligned counts (categories, or bins of a numeric column)."""
    if spec.name == "chi2":
        result = stats.chi2_contingency_2xk(ref_counts, cur_counts)
        return Outcome(result.statistic, result.p_value)
    if spec.name == "jensenshannon":
        return Outcome(stats.jensen_shannon(ref_counts, cur_counts), None)
    if spec.name == "psi":
        return Outcome(stats.psi(ref_counts, cur_counts), None)
    raise AssertionError(f"{spec.name} is not a frequency test")  # pragma: no cover
