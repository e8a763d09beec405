"""Objective conditions: ``">= 0.85"`` parses to one meaning, and ``passes`` keeps it."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.project import Objective, metric_direction, parse_condition
from loopml.project.objectives import ConditionError


@pytest.mark.parametrize(
    ("key", "condition", "expected"),
    [
        ("roc_auc", ">= 0.85", Objective("roc_auc", ">=", 0.85)),
        ("roc_auc", "  >=0.85 ", Objective("roc_auc", ">=", 0.85)),
        ("latency_p95_ms", "<= 50", Objective("latency_p95_ms", "<=", 50.0)),
        ("recall", "> 0.7", Objective("recall", ">", 0.7)),
        ("rmse", "< 3.5", Objective("rmse", "<", 3.5)),
        ("churn_rate", "== 1", Objective("churn_rate", "==", 1.0)),
        ("latency_p95_ms", 50, Objective("latency_p95_ms", "<=", 50.0)),
        ("accuracy", 0.9, Objective("accuracy", ">=", 0.9)),
        ("f1_macro", 0.8, Objective("f1_macro", ">=", 0.8)),
        ("max_model_mb", 50, Objective("model_size_mb", "<=", 50.0)),
        ("max_model_mb", "< 50", Objective("model_size_mb", "<", 50.0)),
        ("r2", "> -0.5", Objective("r2", ">", -0.5)),
    ],
)
def test_conditions_parse(key: str, condition: object, expected: Objective) -> None:
    assert parse_condition(key, condition) == expected


def test_max_model_mb_keeps_its_spelling_for_messages() -> None:
    goal = parse_condition("max_model_mb", 50)
    assert goal.key == "max_model_mb"
    assert str(goal) == "model_size_mb <= 50"
    assert goal.condition == "<= 50"


@pytest.mark.parametrize(
    ("key", "condition", "message"),
    [
        ("roc_auc", ">= abc", "'abc' in '>= abc' is not a number"),
        ("roc_auc", ">=", "'' in '>=' is not a number"),
        ("roc_auc", "=> 0.8", "operator '=>'"),
        ("roc_auc", "!= 0.8", "operator '!='"),
        ("roc_auc", ">= nan", "finite"),
        ("roc_auc", 85, "not a percentage"),
        ("custom", 3, "needs an operator"),
        ("max_model_mb", ">= 5", "upper limit"),
        ("latency_p95_ms", -1, "never negative"),
        ("roc_auc", True, "such as '>= 0.85'"),
        ("roc_auc", [0.8], "only 'fairness' holds a list"),
    ],
)
def test_bad_conditions_say_what_is_allowed(key: str, condition: object, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(key, condition)
    assert message in str(caught.value)


def test_passes_applies_the_operator_and_never_passes_a_missing_value() -> None:
    goal = Objective("roc_auc", ">=", 0.85)
    assert goal.passes(0.85) and goal.passes(0.9) and not goal.passes(0.84)
    assert not goal.passes(math.nan) and not goal.passes(None)
    assert Objective("x", "==", 1).passes(1.0) and not Objective("x", "==", 1).passes(1.01)
    assert Objective("latency_p95_ms", "<", 50).passes(49.9)
    assert not Objective("latency_p95_ms", "<", 50).passes(50)


def test_unknown_operator_is_refused_when_built_in_python() -> None:
    with pytest.raises(ConditionError, match="operator '~'"):
        Objective("x", "~", 1)


def test_metric_direction() -> None:
    assert metric_direction("roc_auc") == "higher"
    assert metric_direction("f1_weighted") == "higher"
    assert metric_direction("max_model_mb") == "lower"
    assert metric_direction("rmse") == "lower"
    assert metric_direction("custom") is None


_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@given(op=st.sampled_from(list(_OPS)), threshold=_numbers, value=_numbers)
def test_passes_agrees_with_the_comparison_it_names(
    op: str, threshold: float, value: float
) -> None:
    goal = parse_condition("custom", f"{op} {threshold!r}")
    assert goal.threshold == threshold
    assert goal.passes(value) == _OPS[op](value, threshold)


@given(op=st.sampled_from([*_OPS, "=="]), threshold=_numbers)
def test_an_objective_reads_back_from_its_own_condition(op: str, threshold: float) -> None:
    goal = Objective("custom", op, threshold)
    assert parse_condition("custom", goal.condition) == goal
