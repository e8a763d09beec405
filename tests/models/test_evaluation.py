"""evaluate(): metrics equal scikit-learn's own, reports, fairness gaps, importance, figures,
and what lands in an active run."""

from __future__ import annotations

import contextlib
import json
import math
import pickle
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import loopml
from loopml.errors import InvalidInput
from loopml.models.evaluation import Evaluation, evaluate, gap_key, infer_task
from loopml.tracking import state

EXACT = {"rel": 0, "abs": 1e-12}
FAST = {"latency_rows": 20, "importance": False, "figures": False, "log": False}


def _classifier() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series, object]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y, _classifier().fit(X, y)


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, pd.Series, object]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y, _classifier().fit(X, y)


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.Series, object]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y, Ridge(alpha=0.1).fit(X, y)


@pytest.fixture(scope="module")
def cancer_full(cancer) -> Evaluation:
    """One complete evaluation (importance and figures) shared by the read-only tests."""
    X, y, model = cancer
    return evaluate(model, X, y, log=False, latency_rows=20)


@pytest.fixture
def tracking(tmp_path, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    loopml.configure(store=f"sqlite:///{tmp_path}/l.db", artifacts=str(tmp_path / "a"))
    yield
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    loopml.configure()
    with state._lock:
        state._close_store()


# -- metrics --------------------------------------------------------------------------------
def test_binary_metrics_equal_sklearn(cancer, cancer_full) -> None:
    X, y, model = cancer
    pred, proba = model.predict(X), model.predict_proba(X)
    m = cancer_full.metrics
    assert cancer_full.task == "binary" and cancer_full.positive_label == 1
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), **EXACT)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred), **EXACT)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred), **EXACT)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred), **EXACT)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]), **EXACT)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba), **EXACT)
    assert m["brier_score"] == pytest.approx(skm.brier_score_loss(y, proba[:, 1]), **EXACT)
    assert m["n_rows"] == len(y)


def test_multiclass_metrics_are_macro_averages(wine) -> None:
    X, y, model = wine
    result = evaluate(model, X, y, **FAST)
    pred, proba = model.predict(X), model.predict_proba(X)
    m = result.metrics
    assert result.task == "multiclass" and result.positive_label is None
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), **EXACT)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"), **EXACT)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), **EXACT)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), **EXACT)
    expected_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert m["roc_auc"] == pytest.approx(expected_auc, **EXACT)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba), **EXACT)
    assert result.calibration is None and "brier_score" not in m


def test_regression_metrics_equal_sklearn(diabetes) -> None:
    X, y, model = diabetes
    result = evaluate(model, X, y, **FAST)
    pred = model.predict(X)
    assert result.task == "regression"
    assert result.metrics["rmse"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(y, pred)), **EXACT
    )
    assert result.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), **EXACT)
    assert result.metrics["r2"] == pytest.approx(skm.r2_score(y, pred), **EXACT)
    assert result.per_class == {} and result.confusion_matrix is None
    assert result.class_balance is None


def test_string_labels_use_the_last_class_as_positive(cancer) -> None:
    X, y, _ = cancer
    names = np.where(y == 1, "benign", "malignant")
    model = _classifier().fit(X, names)
    result = evaluate(model, X, names, **FAST)
    assert result.positive_label == "malignant"
    proba = model.predict_proba(X)[:, list(model.classes_).index("malignant")]
    assert result.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(names == "malignant", proba), **EXACT
    )
    pred = model.predict(X)
    assert result.metrics["recall"] == pytest.approx(
        skm.recall_score(names, pred, pos_label="malignant"), **EXACT
    )


def test_latency_and_size_are_measured(cancer, cancer_full) -> None:
    _, _, model = cancer
    m = cancer_full.metrics
    assert m["latency_ms_per_row"] > 0 and m["latency_p95_ms"] > 0
    assert m["latency_p95_ms"] >= m["latency_ms_per_row"]  # one row costs more than its share
    assert m["model_size_mb"] == pytest.approx(len(pickle.dumps(model)) / 2**20, rel=0.01)


def test_task_inference() -> None:
    assert infer_task(load_diabetes().target) == "regression"
    assert infer_task(load_breast_cancer().target) == "binary"
    assert infer_task(load_iris().target) == "multiclass"
    assert infer_task(np.array([0.0, 1.0, 2.0, 1.0])) == "multiclass"  # integral floats
    assert infer_task(np.array([0.5, 1.0, 2.0])) == "regression"  # fractional values
    assert infer_task(pd.Series(["yes", "no", "yes"])) == "binary"
    with pytest.raises(InvalidInput, match="task="):
        infer_task([1, 1, 1])


def test_unknown_task_lists_the_choices(cancer) -> None:
    X, y, model = cancer
    with pytest.raises(InvalidInput, match="binary, multiclass, regression"):
        evaluate(model, X, y, task="ranking", **FAST)
    with pytest.raises(InvalidInput, match="multiclass"):
        evaluate(model, X, np.arange(len(y)) % 3, task="binary", **FAST)


# -- reports --------------------------------------------------------------------------------
def test_per_class_report_and_confusion_matrix(wine) -> None:
    X, y, model = wine
    result = evaluate(model, X, y, **FAST)
    pred = model.predict(X)
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, pred)
    assert result.labels == [0, 1, 2]
    assert list(result.per_class) == ["0", "1", "2"]
    for i, key in enumerate(result.per_class):
        row = result.per_class[key]
        assert row["precision"] == pytest.approx(precision[i], **EXACT)
        assert row["recall"] == pytest.approx(recall[i], **EXACT)
        assert row["f1"] == pytest.approx(f1[i], **EXACT)
        assert row["support"] == support[i]
    assert result.confusion_matrix == skm.confusion_matrix(y, pred).tolist()


def test_calibration_bins(cancer, cancer_full) -> None:
    X, y, model = cancer
    scores = model.predict_proba(X)[:, 1]
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=10)
    cal = cancer_full.calibration
    assert cal is not None and cal["n_bins"] == 10
    assert len(cal["prob_true"]) == len(cal["prob_pred"]) == len(cal["bin_counts"]) <= 10
    np.testing.assert_allclose(cal["prob_true"], prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cal["prob_pred"], prob_pred, rtol=0, atol=1e-12)
    assert sum(cal["bin_counts"]) == len(y)
    assert cal["brier_score"] == pytest.approx(skm.brier_score_loss(y, scores), **EXACT)


def test_class_balance_is_reported_with_weights() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    keep = np.concatenate([np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)])
    X, y = X.iloc[keep], y.iloc[keep]
    model = _classifier().fit(X, y)
    result = evaluate(model, X, y, **FAST)
    assert result.class_balance is not None
    assert result.class_balance["counts"] == {"0": 20, "1": 357}
    assert result.class_balance["is_imbalanced"] is True
    assert any("imbalanced" in note and "class_weight" in note for note in result.notes)


def test_model_without_predict_proba_omits_probability_metrics(cancer) -> None:
    X, y, _ = cancer
    model = make_pipeline(StandardScaler(), LinearSVC()).fit(X, y)
    result = evaluate(model, X, y, latency_rows=5, log=False, importance=False)
    assert "roc_auc" not in result.metrics and "log_loss" not in result.metrics
    assert result.calibration is None
    assert any("predict_proba" in note for note in result.notes)
    assert set(result.figures) == {"confusion_matrix"}


def test_to_dict_is_json_safe(cancer_full) -> None:
    data = cancer_full.to_dict()
    assert "figures" not in data
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["metrics"]["accuracy"] == cancer_full.metrics["accuracy"]
    odd = Evaluation(task="binary", metrics={"x": math.nan, "y": np.float64(2.0)})
    assert odd.to_dict()["metrics"] == {"x": None, "y": 2.0}


# -- fairness -------------------------------------------------------------------------------
def _hand_recall(y: np.ndarray, pred: np.ndarray) -> float:
    tp = int(np.sum((y == 1) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    return tp / (tp + fn)


def test_fairness_gaps_equal_a_hand_computation(cancer) -> None:
    X, y, model = cancer
    groups = np.random.default_rng(3).choice(["north", "south", "east"], size=len(y))
    sensitive = pd.DataFrame({"region": groups, "other": 1}, index=X.index + 1000)
    pairs = [("recall", "region"), ("selection_rate", "region"), ("accuracy", "region")]
    result = evaluate(model, X, y, sensitive=sensitive, fairness=pairs, **FAST)
    pred, truth = model.predict(X), y.to_numpy()
    expected = {"recall": {}, "selection_rate": {}, "accuracy": {}}
    for g in ("north", "south", "east"):
        rows = groups == g
        expected["recall"][g] = _hand_recall(truth[rows], pred[rows])
        expected["selection_rate"][g] = float(np.sum(pred[rows] == 1)) / int(rows.sum())
        expected["accuracy"][g] = float(np.sum(pred[rows] == truth[rows])) / int(rows.sum())
    for metric, per_group in expected.items():
        got = result.fairness_groups["region"][metric]
        assert set(got) == set(per_group)
        for g, value in per_group.items():
            assert got[g] == pytest.approx(value, **EXACT)
        gap = max(per_group.values()) - min(per_group.values())
        assert result.fairness_gaps[f"{metric}_gap_region"] == pytest.approx(gap, **EXACT)


def test_fairness_roc_auc_skips_single_class_groups(cancer) -> None:
    X, y, model = cancer
    group = np.where(y.to_numpy() == 0, "only_negatives", "mixed")
    group[np.flatnonzero(y.to_numpy() == 0)[:30]] = "mixed"
    sensitive = pd.Series(group, name="site")
    result = evaluate(model, X, y, sensitive=sensitive, fairness=[("roc_auc", "site")], **FAST)
    assert set(result.fairness_groups["site"]["roc_auc"]) == {"mixed"}
    assert any("only_negatives" in n and "fewer than 2 classes" in n for n in result.notes)
    assert result.fairness_gaps["roc_auc_gap_site"] == 0.0


def test_regression_fairness_and_default_metric(diabetes) -> None:
    X, y, model = diabetes
    sex = pd.Series(np.where(X["sex"] > 0, "m", "f"), name="sex group")
    result = evaluate(model, X, y, sensitive=sex, **FAST)
    pred = model.predict(X)
    maes = {g: skm.mean_absolute_error(y[sex == g], pred[sex == g]) for g in ("m", "f")}
    key = gap_key("mae", "sex group")
    assert key == "mae_gap_sex group"
    assert result.fairness_gaps[key] == pytest.approx(abs(maes["m"] - maes["f"]), **EXACT)


@pytest.mark.parametrize(
    ("fairness", "sensitive", "message"),
    [
        ([("recall", "gender")], pd.DataFrame({"age": [0] * 569}), "'gender'.*available.*'age'"),
        ([("rmse", "age")], pd.DataFrame({"age": [0] * 569}), "rmse.*binary"),
        ([("fun", "age")], pd.DataFrame({"age": [0] * 569}), "'fun'.*accuracy"),
        ([("recall", "age")], None, "sensitive"),
        (None, pd.DataFrame({"age": [0] * 10}), "10 rows"),
    ],
)
def test_bad_fairness_requests_are_named(cancer, fairness, sensitive, message) -> None:
    X, y, model = cancer
    with pytest.raises(InvalidInput, match=message):
        evaluate(model, X, y, sensitive=sensitive, fairness=fairness, **FAST)


# -- importance and figures -----------------------------------------------------------------
def test_permutation_importance_ranks_signal_above_noise() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X[["worst radius", "mean texture"]].assign(
        noise=np.random.default_rng(0).normal(size=len(y))
    )
    model = _classifier().fit(X, y)
    result = evaluate(model, X, y, log=False, latency_rows=5, figures=False)
    importance = result.feature_importance
    assert list(importance) == sorted(importance, key=importance.get, reverse=True)
    assert list(importance)[0] == "worst radius"
    assert importance["worst radius"] > importance["noise"] + 0.05
    assert any("roc_auc" in note for note in result.notes)


def test_figures_are_matplotlib_figures(cancer_full, wine, diabetes) -> None:
    assert set(cancer_full.figures) == {
        "confusion_matrix",
        "roc_curve",
        "calibration",
        "feature_importance",
    }
    assert all(isinstance(f, Figure) for f in cancer_full.figures.values())
    X, y, model = wine
    multi = evaluate(model, X, y, log=False, latency_rows=5, importance=False)
    assert set(multi.figures) == {"confusion_matrix", "roc_curve"}
    roc_lines = multi.figures["roc_curve"].axes[0].get_lines()
    assert len(roc_lines) == 3 + 1  # one curve per class, plus chance
    X, y, model = diabetes
    reg = evaluate(model, X, y, log=False, latency_rows=5, n_repeats=2)
    assert set(reg.figures) == {"feature_importance"}


# -- logging --------------------------------------------------------------------------------
def test_active_run_receives_metrics_figures_and_report(cancer, tracking) -> None:
    X, y, model = cancer
    sensitive = pd.Series(np.arange(len(y)) % 2, name="half")
    with loopml.start_run() as run:
        result = evaluate(
            model,
            X,
            y,
            sensitive=sensitive,
            fairness=[("recall", "half")],
            latency_rows=5,
            n_repeats=2,
        )
    record = loopml.get_run(run.run_id)
    for name in ("accuracy", "roc_auc", "latency_p95_ms", "model_size_mb", "recall_gap_half"):
        assert name in record.metrics
    assert record.metrics["roc_auc"].value == pytest.approx(result.metrics["roc_auc"], **EXACT)
    paths = {a.path for a in record.artifacts}
    for name in ("confusion_matrix", "roc_curve", "calibration", "feature_importance"):
        assert f"evaluation/{name}.png" in paths
        assert loopml.get_artifact(run.run_id, f"evaluation/{name}.png").startswith(b"\x89PNG")
    report = json.loads(loopml.get_artifact(run.run_id, "evaluation/report.json"))
    assert report["metrics"]["accuracy"] == result.metrics["accuracy"]
    assert report["fairness_gaps"]["recall_gap_half"] == result.fairness_gaps["recall_gap_half"]


def test_nothing_is_logged_without_an_active_run(cancer, tracking) -> None:
    X, y, model = cancer
    result = evaluate(model, X, y, latency_rows=5, importance=False, figures=False)
    assert result.log() is False
    assert len(loopml.search_runs()) == 0


# -- bad input ------------------------------------------------------------------------------
class _NoPredict:
    def fit(self, X, y):
        return self


class _HalfPredict:
    """Answers for half of the rows only."""

    def predict(self, X):
        return np.zeros(len(X) // 2)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (lambda m, X, y: (m, X[:100], y), "100 rows but y has 569"),
        (lambda m, X, y: (m, X.iloc[:0], y.iloc[:0]), "empty"),
        (lambda m, X, y: (_NoPredict(), X, y), "no predict"),
        (lambda m, X, y: (m, X, y.astype(float).where(y.index != 7)), "missing label.*7"),
        (lambda m, X, y: (m, None, y), "None"),
        (lambda m, X, y: (_HalfPredict(), X, y), r"predict\(\) returned shape \(284,\)"),
        (lambda m, X, y: (m, X, y.astype(float).where(y.index != 3, np.inf)), "infinite"),
    ],
)
def test_bad_input_is_named(cancer, case, message) -> None:
    X, y, model = cancer
    with pytest.raises(InvalidInput, match=message):
        evaluate(*case(model, X, y), **FAST)


def test_bad_options_are_named(cancer) -> None:
    X, y, model = cancer
    with pytest.raises(InvalidInput, match="n_repeats"):
        evaluate(model, X, y, n_repeats=0, log=False)
    with pytest.raises(InvalidInput, match="numeric target"):
        evaluate(model, X, y.map({0: "no", 1: "yes"}), task="regression", **FAST)


class _Threshold:
    """A predict-only model (no fit, no predict_proba), like a plain-Python flavor."""

    def predict(self, X):
        return (X["worst radius"].to_numpy() < 16.8).astype(int)


def test_predict_only_model_still_gets_importance(cancer) -> None:
    X, y, _ = cancer
    result = evaluate(_Threshold(), X, y, log=False, latency_rows=5, n_repeats=2)
    assert result.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(y, _Threshold().predict(X)), **EXACT
    )
    assert list(result.feature_importance)[0] == "worst radius"
    assert result.feature_importance["mean radius"] == 0.0
    assert "roc_auc" not in result.metrics
