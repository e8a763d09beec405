"""check_overfit_small(): a working model memorises 64 rows; a broken one is caught loudly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.errors import InvalidInput, LoopmlError
from loopml.models.sanity import OverfitCheck, OverfitCheckFailed, check_overfit_small


class ConstantModel:
    """A broken learner: fit() ignores the labels, predict() always answers class 0."""

    def fit(self, X, y):
        self.answer_ = 0
        return self

    def predict(self, X):
        return np.full(len(X), self.answer_)


class RecordingTree(DecisionTreeClassifier):
    """A tree that remembers the labels it was trained on."""

    seen: list = []

    def fit(self, X, y, **kwargs):
        RecordingTree.seen = list(y)
        return super().fit(X, y, **kwargs)


def test_decision_tree_passes() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    check = check_overfit_small(DecisionTreeClassifier, X, y)
    assert isinstance(check, OverfitCheck)
    assert check.score == 1.0 and check.threshold == 0.9 and check.n == 64
    assert check.metric == "accuracy" and check.task == "binary"


def test_model_that_ignores_labels_fails_loudly() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with pytest.raises(OverfitCheckFailed) as caught:
        check_overfit_small(ConstantModel, X, y)
    message = str(caught.value)
    assert "cannot fit even 64 training rows" in message
    assert "below the minimum 0.9" in message
    assert "broken implementation" in message and "labels shuffled" in message
    assert isinstance(caught.value, LoopmlError)
    assert caught.value.score < 0.9 and caught.value.n == 64


def test_regression_uses_r2() -> None:
    X, y = load_diabetes(return_X_y=True)
    check = check_overfit_small(lambda: DecisionTreeRegressor(random_state=0), X, y, n=40)
    assert check.metric == "r2" and check.threshold == 0.8 and check.score == pytest.approx(1.0)
    with pytest.raises(OverfitCheckFailed, match=r"r2 .* below the minimum 0\.8"):
        check_overfit_small(lambda: DecisionTreeRegressor(max_depth=1), X, y, n=40)


def test_min_score_is_a_parameter() -> None:
    X, y = load_iris(return_X_y=True)
    stump = lambda: DecisionTreeClassifier(max_depth=1)  # noqa: E731 - at most 2 of 3 classes
    with pytest.raises(OverfitCheckFailed):
        check_overfit_small(stump, X, y, n=30)
    assert check_overfit_small(stump, X, y, n=30, min_score=0.5).threshold == 0.5


def test_sample_is_stratified_and_capped_at_the_data() -> None:
    X, y = load_iris(return_X_y=True)
    check_overfit_small(RecordingTree, X, y, n=6)
    assert Counter(RecordingTree.seen) == {0: 2, 1: 2, 2: 2}
    check = check_overfit_small(RecordingTree, X, y, n=10_000)
    assert check.n == len(y) and len(RecordingTree.seen) == len(y)


def test_same_seed_same_sample() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    check_overfit_small(RecordingTree, X, y, random_state=5)
    first = RecordingTree.seen
    check_overfit_small(RecordingTree, X, y, random_state=5)
    assert RecordingTree.seen == first
    assert Counter(first)[1] == round(64 * np.mean(y))  # class shares kept


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1}, "n: must be an integer >= 2"),
        ({"make_model": DecisionTreeClassifier()}, "make_model: must be a callable"),
        ({"make_model": lambda: object()}, "lacks fit"),
        ({"y": np.zeros(3)}, "rows"),
        ({"task": "ranking"}, "binary, multiclass, regression"),
    ],
)
def test_bad_input_is_named(kwargs, message) -> None:
    X, y = load_iris(return_X_y=True)
    args = {"make_model": DecisionTreeClassifier, "X": X, "y": y, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        check_overfit_small(**args)
