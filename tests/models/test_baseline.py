"""baseline(): the trivial model's metrics, logged as ``baseline.<metric>`` beside the model's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.errors import InvalidInput
from loopml.models.baseline import baseline, compare_to_baseline
from loopml.models.evaluation import evaluate
from loopml.tracking import state

EXACT = {"rel": 0, "abs": 1e-12}


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


def test_binary_baseline_is_the_majority_class() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    result = baseline(X, y, log=False)
    majority_share = max(np.bincount(y)) / len(y)
    assert result.task == "binary"
    assert result.metrics["accuracy"] == pytest.approx(majority_share, **EXACT)
    assert result.metrics["roc_auc"] == 0.5  # constant scores rank nothing
    assert result.metrics["recall"] == 1.0  # the majority class is the positive one here
    assert result.feature_importance == {} and result.figures == {}
    assert result.class_balance is not None


def test_multiclass_and_regression_baselines() -> None:
    X, y = load_wine(return_X_y=True)
    multi = baseline(X, y, "multiclass", log=False)
    assert multi.metrics["accuracy"] == pytest.approx(max(np.bincount(y)) / len(y), **EXACT)
    X, y = load_diabetes(return_X_y=True)
    reg = baseline(X, y, log=False)
    assert reg.task == "regression"
    assert reg.metrics["r2"] == pytest.approx(0.0, **EXACT)
    assert reg.metrics["rmse"] == pytest.approx(float(np.std(y)), rel=1e-12)
    assert reg.metrics["mae"] == pytest.approx(float(np.mean(np.abs(y - y.mean()))), rel=1e-12)


def test_compare_to_baseline_reports_lift_in_the_right_direction() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    real = evaluate(model, X, y, log=False, importance=False, figures=False, latency_rows=5)
    trivial = baseline(X, y, log=False)
    table = compare_to_baseline(real, trivial)
    assert "latency_p95_ms" not in table and "model_size_mb" not in table
    assert "n_rows" not in table
    acc = table["accuracy"]
    assert acc["lift"] == pytest.approx(acc["model"] - acc["baseline"], **EXACT)
    assert acc["better"] is True
    assert table["log_loss"]["lift"] < 0 and table["log_loss"]["better"] is True
    assert table["roc_auc"]["baseline"] == 0.5


def test_baseline_metrics_are_logged_with_prefix_beside_the_model(tracking) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    with loopml.start_run() as run:
        evaluate(model, X, y, importance=False, figures=False, latency_rows=5)
        trivial = baseline(X, y)
    metrics = loopml.get_run(run.run_id).metrics
    assert "accuracy" in metrics and "baseline.accuracy" in metrics
    assert metrics["baseline.accuracy"].value == pytest.approx(trivial.metrics["accuracy"], **EXACT)
    assert metrics["baseline.roc_auc"].value == 0.5
    assert metrics["accuracy"].value > metrics["baseline.accuracy"].value
    report = json.loads(loopml.get_artifact(run.run_id, "evaluation/baseline.json"))
    assert report["metrics"]["accuracy"] == trivial.metrics["accuracy"]


def test_baseline_without_a_run_logs_nothing(tracking) -> None:
    X, y = load_wine(return_X_y=True)
    baseline(X, y)
    assert len(loopml.search_runs()) == 0


def test_bad_input() -> None:
    X, y = load_wine(return_X_y=True)
    with pytest.raises(InvalidInput, match="binary, multiclass, regression"):
        baseline(X, y, "clustering")
    with pytest.raises(InvalidInput, match="rows"):
        baseline(X[:10], y)
    with pytest.raises(InvalidInput, match="empty"):
        baseline(X[:0], y[:0])
