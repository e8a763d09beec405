"""Class balance: counts, shares, imbalance ratio and sklearn's "balanced" class weights."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.class_weight import compute_class_weight

from loopml.data.imbalance import class_balance
from loopml.errors import InvalidInput


@pytest.mark.parametrize(
    "y",
    [
        np.array([0] * 90 + [1] * 10),
        np.array(["cat"] * 5 + ["dog"] * 3 + ["eel"] * 12),
        pd.Series([2, 1, 1, 3, 3, 3, 3]),
        [True, False, False, False],
    ],
)
def test_suggested_weights_equal_sklearn_balanced(y) -> None:
    values = np.asarray(y)
    classes = np.unique(values)
    expected = compute_class_weight("balanced", classes=classes, y=values)
    balance = class_balance(y)
    assert list(balance["suggested_class_weights"]) == [str(c) for c in classes]
    got = np.array(list(balance["suggested_class_weights"].values()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert all(type(v) is float for v in balance["suggested_class_weights"].values())


def test_counts_shares_and_ratio() -> None:
    balance = class_balance(pd.Series(["a"] * 6 + ["b"] * 2 + ["c"] * 2))
    assert balance["counts"] == {"a": 6, "b": 2, "c": 2}
    assert balance["shares"] == {"a": 0.6, "b": 0.2, "c": 0.2}
    assert balance["n_samples"] == 10 and balance["n_classes"] == 3
    assert balance["majority_class"] == "a" and balance["minority_class"] in {"b", "c"}
    assert balance["imbalance_ratio"] == 3.0
    assert balance["is_imbalanced"] is True
    json.dumps(balance, allow_nan=False)  # plain JSON, ready for a report


def test_imbalance_threshold_is_a_parameter() -> None:
    y = [0] * 14 + [1] * 10  # ratio 1.4
    assert class_balance(y)["is_imbalanced"] is False
    assert class_balance(y, threshold=1.3)["is_imbalanced"] is True
    assert class_balance([0, 1, 0, 1])["imbalance_ratio"] == 1.0
    with pytest.raises(InvalidInput, match="threshold"):
        class_balance(y, threshold=0.5)


def test_missing_labels_are_counted_apart() -> None:
    balance = class_balance(pd.Series([1.0, 0.0, np.nan, 1.0, None]))
    assert balance["n_missing"] == 2
    assert balance["counts"] == {"0.0": 1, "1.0": 2}
    assert balance["n_samples"] == 3


def test_nullable_and_categorical_targets() -> None:
    nullable = pd.Series([1, 0, None, 1], dtype="Int64")
    assert class_balance(nullable)["counts"] == {"0": 1, "1": 2}
    categorical = pd.Series(["x", "y", "y"], dtype="category")
    assert class_balance(categorical)["counts"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("y", "problem"),
    [
        ([], "empty"),
        (np.array([]), "empty"),
        ([None, None], "missing"),
        (pd.Series([np.nan, np.nan, np.nan]), "missing"),
        ([3, 3, 3], "single class"),
        (pd.DataFrame({"a": [0, 1], "b": [1, 0]}), "2 columns"),
        (5, "single int"),
    ],
)
def test_bad_targets_are_named(y, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        class_balance(y)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4), min_size=2, max_size=200))
def test_balanced_weights_give_every_class_the_same_total(labels: list[int]) -> None:
    if len(set(labels)) < 2:
        with pytest.raises(InvalidInput):
            class_balance(labels)
        return
    balance = class_balance(labels)
    totals = [
        balance["suggested_class_weights"][k] * balance["counts"][k] for k in balance["counts"]
    ]
    # n_samples / (n_classes * count) * count: each class weighs n_samples / n_classes
    np.testing.assert_allclose(totals, len(labels) / len(set(labels)), rtol=1e-12)
    assert balance["imbalance_ratio"] >= 1.0
