"""The verdict on one column: the edge cases first (no values, type changed, too few rows,
constant), then the chosen test.

A column that cannot support a verdict is reported ``meaningful=False`` and never drifted,
so bad data does not raise false alarms; a column whose type changed *is* drifted, because
a model fed strings where it learned numbers is broken whatever the numbers say.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from loopml.errors import InvalidInput
from loopml.monitoring import column_tests
from loopml.monitoring.column_summaries import categorical_plot, numeric_plot, summary
from loopml.monitoring.column_tests import TESTS, TestSpec
from loopml.monitoring.column_values import (
    CATEGORICAL,
    DATETIME,
    EMPTY,
    NUMERIC,
    TEXT,
    Side,
    low_cardinality_values,
    numeric_as_categorical,
)
from loopml.monitoring.report import ColumnDrift, format_number

#: Fewer non-missing values than this on either side: no verdict ("too few rows").
MIN_VALUES = 30

#: Above this many values per side a p-value test finds "significant" differences far too
#: small to matter; the report says so next to the verdict.
LARGE_FOR_PVALUE = 100_000

#: A change of the missing rate by at least this much (absolute) is mentioned in the note.
MISSING_RATE_NOTE = 0.05


def compare_column(
    name: str,
    reference: Side,
    current: Side,
    *,
    spec: TestSpec | None,
    threshold: float | None,
    threshold_is_global: bool,
    n_reference_rows: int,
    max_sample_for_pvalue: int,
    p_value_threshold: float | None = None,
) -> ColumnDrift:
    """Compare one column; ``spec``/``threshold`` None mean the defaults.

    ``p_value_threshold`` replaces the default threshold of p-value tests (KS, chi-square)
    only: distance tests keep theirs (``monitoring.drift_threshold`` of loopml.yaml)."""
    notes = _side_notes(reference, current)
    if reference.kind == CATEGORICAL and current.kind == TEXT:  # many new values: still test
        current = replace(current, kind=CATEGORICAL)
    elif reference.kind == TEXT and current.kind == CATEGORICAL:
        current = replace(current, kind=TEXT)
    problem = _untestable(reference, current)
    if problem is not None:
        drifted, note = problem
        return _verdict(
            name,
            reference,
            current,
            "type" if drifted else "-",
            drifted=drifted,
            meaningful=drifted,
            notes=[note, *notes],
        )

    wants_numeric_test = spec is not None and spec.kinds == frozenset({NUMERIC})
    if reference.kind == NUMERIC and reference.values is not None and not wants_numeric_test:
        reference, current, note = _maybe_low_cardinality(reference, current)
        if note:
            notes.append(note)
    kind = reference.kind

    if spec is not None and kind not in spec.kinds:
        allowed = ", ".join(n for n, s in TESTS.items() if kind in s.kinds)
        raise InvalidInput(
            f"tests[{name!r}]: {spec.name} does not apply to {kind} column {name!r}; "
            f"choose one of: {allowed}"
        )
    binned = reference.values is None and kind == NUMERIC
    chosen = (
        spec
        or TESTS[
            column_tests.default_test(kind, n_reference_rows, max_sample_for_pvalue, binned=binned)
        ]
    )
    if chosen.needs_raw_values and binned:
        fallback = TESTS[
            column_tests.default_test(kind, n_reference_rows, max_sample_for_pvalue, binned=True)
        ]
        notes.append(
            f"{chosen.name} needs raw reference values, a profile has only bins: used "
            f"{fallback.name}"
        )
        chosen, threshold, threshold_is_global = fallback, None, False

    few = min(reference.n_values, current.n_values)
    if few < MIN_VALUES:
        return _verdict(
            name,
            reference,
            current,
            chosen.name,
            drifted=False,
            meaningful=False,
            notes=[
                f"too few rows to test: {reference.n_values} reference and "
                f"{current.n_values} current values (need {MIN_VALUES} on each side)",
                *notes,
            ],
        )

    constant = _constant_value(reference)
    if constant is not None and _same_constant(current, constant):
        return _verdict(
            name,
            reference,
            current,
            chosen.name,
            drifted=False,
            meaningful=False,
            notes=[f"constant ({_show(constant)}) on both sides: nothing to compare", *notes],
        )
    if constant is not None and kind == NUMERIC and chosen.name != "ks":
        reference, current, split_note = _split_on_constant(reference, current, constant)
        notes.append(split_note)
        if chosen.needs_raw_values:  # wasserstein: normed by a zero spread
            chosen = TESTS[
                column_tests.default_test(
                    CATEGORICAL, n_reference_rows, max_sample_for_pvalue, binned=False
                )
            ]
            threshold, threshold_is_global = None, False
        kind = NUMERIC  # still reported as the numeric column it is

    if threshold is None and p_value_threshold is not None and chosen.uses_p_value:
        threshold, threshold_is_global = p_value_threshold, False
    level = _threshold(name, chosen, threshold, threshold_is_global)
    if reference.kind == NUMERIC:
        outcome = column_tests.run_numeric(chosen, reference, current)
    else:
        outcome = column_tests.run_categorical(chosen, reference, current)
    if chosen.uses_p_value and few > LARGE_FOR_PVALUE:
        notes.append(
            f"p-value on {few:,}+ values per side flags even negligible differences; "
            "a distance test (wasserstein, jensenshannon) is the usual choice at this size"
        )
    drifted = chosen.drifted(outcome.statistic, outcome.p_value, level)
    return _verdict(
        name,
        reference,
        current,
        chosen.name,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=level,
        drifted=drifted,
        meaningful=True,
        notes=notes,
        kind=kind,
    )


def _untestable(reference: Side, current: Side) -> tuple[bool, str] | None:
    """(drifted, note) for a column no test can read, None when a test can run."""
    kinds = (reference.kind, current.kind)
    if EMPTY in kinds:
        which = " and ".join(
            side for side, s in (("reference", reference), ("current", current)) if s.kind == EMPTY
        )
        return False, f"no values in {which} (all missing): nothing to compare"
    if reference.kind != current.kind:
        return True, (
            f"type changed: {_kind_name(reference)} in reference, {_kind_name(current)} in current"
        )
    if reference.kind == DATETIME:
        return False, "datetime column: not tested (time always moves; test derived features)"
    if reference.kind == TEXT:
        return False, "free text or identifier (too many distinct values): not tested"
    return None


def _kind_name(side: Side) -> str:
    label = {CATEGORICAL: "categorical/text", TEXT: "text"}.get(side.kind, side.kind)
    return f"{label} ({side.dtype})"


def _maybe_low_cardinality(reference: Side, current: Side) -> tuple[Side, Side, str]:
    """Numeric columns with at most 5 distinct values (both sides) compare as categories."""
    ref_values = low_cardinality_values(reference)
    cur_values = low_cardinality_values(current) if ref_values is not None else None
    if ref_values is None or cur_values is None:
        return reference, current, ""
    distinct = np.union1d(ref_values, cur_values)
    if distinct.size > 5 or distinct.size < 2:  # one value: the constant checks handle it
        return reference, current, ""
    note = f"numeric with {distinct.size} distinct values: compared as categories"
    return (
        numeric_as_categorical(reference, distinct),
        numeric_as_categorical(current, distinct),
        note,
    )


def _constant_value(side: Side) -> object | None:
    if side.kind == NUMERIC:
        if side.values is not None:
            return float(side.values[0]) if side.values[0] == side.values[-1] else None
        if side.edges is not None and side.edges[0] == side.edges[-1]:
            return float(side.edges[0])
        return None
    if side.labels is not None and side.labels.size == 1:
        return side.labels[0]
    return None


def _same_constant(side: Side, constant: object) -> bool:
    return _constant_value(side) == constant


def _split_on_constant(reference: Side, current: Side, value: object) -> tuple[Side, Side, str]:
    """A constant numeric reference has no spread and no bins: compare "= v" against the rest."""
    assert current.values is not None
    equal = int(np.count_nonzero(current.values == value))
    labels = np.array([f"= {_show(value)}", "other values"], dtype=object)

    def split(side: Side, same: int) -> Side:
        return Side(
            CATEGORICAL,
            dtype=side.dtype,
            n_rows=side.n_rows,
            n_missing=side.n_missing,
            n_inf=side.n_inf,
            labels=labels,
            counts=np.array([same, side.n_values - same], dtype=np.int64),
        )

    share = 1 - equal / current.n_values
    note = (
        f"reference is constant ({_show(value)}); {share:.1%} of current values differ: "
        "compared as two categories"
    )
    return split(reference, reference.n_values), split(current, equal), note


def _threshold(name: str, spec: TestSpec, threshold: float | None, is_global: bool) -> float:
    if threshold is None:
        return spec.default_threshold
    if not is_global:
        return threshold
    try:
        return column_tests.check_threshold("*", spec, threshold)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{exc} (column {name!r} uses {spec.name}); give that column its own threshold "
            f"with tests={{{name!r}: ({spec.name!r}, ...)}}"
        ) from None


def _side_notes(reference: Side, current: Side) -> list[str]:
    notes = []
    if abs(current.missing_rate - reference.missing_rate) >= MISSING_RATE_NOTE:
        notes.append(f"missing rate {reference.missing_rate:.1%} -> {current.missing_rate:.1%}")
    infinite = [
        f"{s.n_inf:,} in {side}"
        for side, s in (("reference", reference), ("current", current))
        if s.n_inf
    ]
    if infinite:
        notes.append(f"infinite values left out of the test: {', '.join(infinite)}")
    return notes


def _verdict(
    name: str,
    reference: Side,
    current: Side,
    test: str,
    *,
    statistic: float | None = None,
    p_value: float | None = None,
    threshold: float | None = None,
    drifted: bool,
    meaningful: bool,
    notes: list[str],
    kind: str | None = None,
) -> ColumnDrift:
    bins = categories = None
    ref_counts: list[int] = []
    cur_counts: list[int] = []
    if reference.kind == current.kind == NUMERIC:
        bins, ref_counts, cur_counts = numeric_plot(reference, current)
    elif reference.kind == current.kind == CATEGORICAL:
        categories, ref_counts, cur_counts = categorical_plot(reference, current)
    spec = TESTS.get(test)
    return ColumnDrift(
        name=name,
        kind=kind or reference.kind,
        test=test,
        statistic=None if statistic is None else float(statistic),
        p_value=None if p_value is None else float(p_value),
        threshold=threshold,
        drifted=bool(drifted),
        meaningful=bool(meaningful),
        note="; ".join(n for n in notes if n),
        reference=summary(reference, ref_counts),
        current=summary(current, cur_counts),
        bins=bins,
        categories=categories,
        test_label=spec.label if spec else ("schema check" if test == "type" else ""),
    )


def _show(value: object) -> str:
    if isinstance(value, float):
        return format_number(value)
    return repr(value)
