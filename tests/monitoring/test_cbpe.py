"""CBPE estimates a classifier's performance before labels arrive: on calibrated
probabilities the realized metric falls inside the band as often as promised, the estimate
follows a covariate shift, and malformed probabilities are refused with the argument named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import InvalidInput
from loopml.monitoring.cbpe import METRICS, Calibration, check_proba, estimate, fit_calibration

BINARY = [0, 1]
LETTERS = ["a", "b", "c"]


def binary_draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    p = 1 / (1 + np.exp(-rng.normal(0, 2, n)))
    return np.column_stack([1 - p, p]), (rng.random(n) < p).astype(int)


def multiclass_draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(0, 1.5, (n, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] >= np.cumsum(proba, axis=1)[:, :-1]).sum(axis=1)
    return proba, np.array(LETTERS)[codes]


def realized(metric: str, labels: np.ndarray, proba: np.ndarray, classes: list) -> float:
    codes = np.searchsorted(classes, labels)
    pred = proba.argmax(axis=1)
    every = list(range(len(classes)))
    if metric == "accuracy":
        return skm.accuracy_score(codes, pred)
    if metric == "roc_auc":
        if len(classes) == 2:
            return skm.roc_auc_score(codes, proba[:, 1])
        return skm.roc_auc_score(codes, proba, multi_class="ovr", labels=every)
    score = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
    average = {"average": "binary"} if len(classes) == 2 else {"average": "macro", "labels": every}
    return score[metric](codes, pred, zero_division=0, **average)


@pytest.fixture(scope="module")
def coverage() -> dict[str, int]:
    """Over 50 seeds: how often each band held the realized metric (binary and multiclass)."""
    hits = {f"binary/{m}": 0 for m in METRICS} | {f"multiclass/{m}": 0 for m in METRICS}
    for seed in range(50):
        rng = np.random.default_rng(seed)
        for kind, draw, classes in (
            ("binary", binary_draw, BINARY),
            ("multiclass", multiclass_draw, LETTERS),
        ):
            calibration = fit_calibration(*draw(rng, 2000), classes)
            proba, labels = draw(rng, 1000)
            for metric in METRICS:
                band = estimate(proba, classes, calibration, metric=metric, seed=12345)
                truth = realized(metric, labels, proba, classes)
                hits[f"{kind}/{metric}"] += band.lower <= truth <= band.upper
    return hits


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("metric", METRICS)
def test_the_band_holds_the_realized_metric_in_at_least_90_percent_of_50_seeds(
    coverage: dict[str, int], kind: str, metric: str
) -> None:
    assert coverage[f"{kind}/{metric}"] >= 45


def test_the_band_is_a_coverage_band_not_a_point() -> None:
    rng = np.random.default_rng(7)
    proba, labels = binary_draw(rng, 1000)
    for metric in METRICS:
        band = estimate(proba, BINARY, Calibration.identity(BINARY), metric=metric)
        assert band.lower < band.value < band.upper, band
        assert 0.005 < band.upper - band.lower < 0.15
        assert band.n == 1000 and band.confidence == 0.95
        assert band.lower <= realized(metric, labels, proba, BINARY) <= band.upper


def test_breast_cancer_accuracy_estimate_within_three_points_of_realized() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_ref, X_cur, y_ref, y_cur = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    # the reference: out-of-fold probabilities on the training half, where labels are known
    reference = cross_val_predict(model, X_ref, y_ref, cv=5, method="predict_proba")
    model.fit(X_ref, y_ref)
    calibration = fit_calibration(reference, y_ref, BINARY)
    guess = estimate(model.predict_proba(X_cur), BINARY, calibration)
    truth = skm.accuracy_score(y_cur, model.predict(X_cur))
    assert abs(guess.value - truth) <= 0.03, (guess, truth)


def test_the_estimate_follows_a_covariate_shift() -> None:
    rng = np.random.default_rng(0)

    def draw(n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(0, spread, (n, 2))
        p = 1 / (1 + np.exp(-(3 * X[:, 0] - 2 * X[:, 1])))
        return X, (rng.random(n) < p).astype(int)

    X_train, y_train = draw(2000, 1.0)
    model = LogisticRegression().fit(X_train, y_train)
    X_ref, y_ref = draw(2000, 1.0)
    calibration = fit_calibration(model.predict_proba(X_ref), y_ref, BINARY)
    figures = {}
    for spread in (1.0, 0.3):  # inputs crowd the decision boundary: the model gets worse
        X, y = draw(3000, spread)
        guess = estimate(model.predict_proba(X), BINARY, calibration)
        figures[spread] = (guess.value, skm.accuracy_score(y, model.predict(X)))
        assert abs(guess.value - figures[spread][1]) < 0.03, figures
    assert figures[1.0][0] - figures[0.3][0] > 0.1, figures


def test_an_overconfident_model_is_calibrated_and_its_estimate_corrected() -> None:
    rng = np.random.default_rng(3)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        logit = rng.normal(0, 1.5, n)
        truth = 1 / (1 + np.exp(-logit))
        shown = 1 / (1 + np.exp(-3 * logit))  # says 0.95 where the truth is 0.73
        return np.column_stack([1 - shown, shown]), (rng.random(n) < truth).astype(int)

    calibration = fit_calibration(*draw(5000), BINARY)
    assert not calibration.is_identity and "isotonic" in calibration.note
    proba, labels = draw(3000)
    truth = realized("accuracy", labels, proba, BINARY)
    naive = estimate(proba, BINARY, Calibration.identity(BINARY)).value
    corrected = estimate(proba, BINARY, calibration).value
    assert naive - truth > 0.1
    assert abs(corrected - truth) < 0.02


def test_a_small_reference_is_left_uncalibrated_and_says_so() -> None:
    proba, labels = binary_draw(np.random.default_rng(0), 99)
    calibration = fit_calibration(proba, labels, BINARY)
    assert calibration.is_identity
    assert "99 rows" in calibration.note and "100" in calibration.note


def test_a_calibration_round_trips_through_json() -> None:
    rng = np.random.default_rng(1)
    proba, labels = multiclass_draw(rng, 3000)
    proba = proba**2 / (proba**2).sum(axis=1, keepdims=True)  # overconfident: maps are fitted
    calibration = fit_calibration(proba, labels, LETTERS)
    assert not calibration.is_identity
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again == calibration
    current, _ = multiclass_draw(rng, 500)
    for metric in METRICS:
        first = estimate(current, LETTERS, calibration, metric=metric)
        assert estimate(current, LETTERS, again, metric=metric) == first
    with pytest.raises(InvalidInput, match="calibration"):
        Calibration.from_dict({"classes": LETTERS})
    with pytest.raises(InvalidInput, match="one"):
        Calibration.from_dict({"classes": LETTERS, "maps": [None]})


def test_expected_auc_is_the_auc_with_each_row_counted_as_positive_p_and_negative_1_minus_p() -> (
    None
):
    rng = np.random.default_rng(5)
    p = np.round(rng.random(400), 2)  # ties included
    proba = np.column_stack([1 - p, p])
    guess = estimate(proba, BINARY, Calibration.identity(BINARY), metric="roc_auc")
    doubled = skm.roc_auc_score(
        np.r_[np.ones(400), np.zeros(400)], np.r_[p, p], sample_weight=np.r_[p, 1 - p]
    )
    assert guess.value == pytest.approx(doubled, abs=1e-12)


def test_binary_f1_precision_recall_come_from_the_expected_confusion_matrix() -> None:
    p = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])
    proba = np.column_stack([1 - p, p])
    tp, fp = 0.9 + 0.8 + 0.6, 0.1 + 0.2 + 0.4
    fn = 0.4 + 0.2 + 0.1
    identity = Calibration.identity(BINARY)
    values = {m: estimate(proba, BINARY, identity, metric=m).value for m in METRICS}
    assert values["precision"] == pytest.approx(tp / (tp + fp))
    assert values["recall"] == pytest.approx(tp / (tp + fn))
    assert values["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert values["accuracy"] == pytest.approx((0.9 + 0.8 + 0.6 + 0.6 + 0.8 + 0.9) / 6)
    # given predictions replace the argmax
    flipped = estimate(proba, BINARY, identity, predictions=[1, 1, 1, 1, 1, 1])
    assert flipped.value == pytest.approx(p.mean())


def test_string_classes_and_one_dimensional_binary_probabilities() -> None:
    p = np.array([0.2, 0.7, 0.9, 0.4])
    classes = ["no", "yes"]
    identity = Calibration.identity(classes)
    one_column = estimate(p, classes, identity, metric="f1")
    two_columns = estimate(np.column_stack([1 - p, p]), classes, identity, metric="f1")
    assert one_column == two_columns


@pytest.mark.parametrize(
    ("proba", "message"),
    [
        (np.array([[0.5, 0.6], [0.3, 0.7]]), "sum to 1"),
        (np.array([[0.2, 0.3, 0.5]]), "shape"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.empty((0, 2)), "empty"),
        (np.array([[1.5, -0.5]]), r"\[0, 1\]"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_malformed_probabilities_are_refused_naming_the_argument(
    proba: np.ndarray, message: str
) -> None:
    identity = Calibration.identity(BINARY)
    with pytest.raises(InvalidInput, match=message) as caught:
        estimate(proba, BINARY, identity)
    assert "proba" in str(caught.value)
    with pytest.raises(InvalidInput, match="reference_proba"):
        fit_calibration(proba, np.zeros(len(proba), dtype=int), BINARY)


def test_rows_summing_to_one_within_a_millionth_are_accepted() -> None:
    proba = np.array([[0.3, 0.7 + 9e-7], [0.5, 0.5 - 9e-7]])
    assert check_proba(proba, BINARY).shape == (2, 2)
    with pytest.raises(InvalidInput, match="row 1"):
        check_proba(np.array([[0.3, 0.7], [0.5, 0.5 - 2e-6]]), BINARY)


def test_other_bad_arguments_are_refused_with_what_to_do() -> None:
    proba, labels = binary_draw(np.random.default_rng(0), 200)
    identity = Calibration.identity(BINARY)
    with pytest.raises(InvalidInput, match="reference_labels"):
        fit_calibration(proba, labels[:-1], BINARY)
    with pytest.raises(InvalidInput, match="reference_labels holds values not in classes"):
        fit_calibration(proba, labels + 5, BINARY)
    with pytest.raises(InvalidInput, match="classes"):
        fit_calibration(proba, labels, [1])
    with pytest.raises(InvalidInput, match="accuracy, roc_auc"):
        estimate(proba, BINARY, identity, metric="mcc")
    with pytest.raises(InvalidInput, match="fitted for classes"):
        estimate(proba, ["x", "y"], identity)
    with pytest.raises(InvalidInput, match="predictions"):
        estimate(proba, BINARY, identity, predictions=[0, 1])
    with pytest.raises(InvalidInput, match="confidence"):
        estimate(proba, BINARY, identity, confidence=1.5)
