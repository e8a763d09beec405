"""The simplest solution, measured: every model is compared with the trivial one.

``baseline`` fits the majority-class (with class-prior probabilities) or mean predictor and
evaluates it on the same data; with a run active its metrics are logged as
``baseline.<metric>`` beside the real model's ``<metric>``. A model that barely beats its
baseline has learned little, whatever its accuracy looks like.
"""

from __future__ import annotations

from typing import Any

from loopml.models.evaluation import (
    Evaluation,
    check_lengths,
    check_task,
    evaluate,
    features,
    infer_task,
    target_array,
)

BASELINE_PREFIX = "baseline."
# Quality metrics where a smaller value is better (the others: larger is better).
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score", "rmse", "mae"})
# Not compared: they describe the deployment or the data, not how good the predictions are.
OPERATIONAL = frozenset({"latency_ms_per_row", "latency_p95_ms", "model_size_mb", "n_rows"})


def baseline(X: Any, y: Any, task: str | None = None, *, log: bool = True) -> Evaluation:
    """Fit and evaluate the trivial model for ``task`` (inferred when None) on ``X, y``.

    Classification: ``DummyClassifier(strategy="prior")`` (always the majority class, with
    the class shares as probabilities: accuracy = majority share, roc_auc = 0.5).
    Regression: ``DummyRegressor(strategy="mean")`` (r2 = 0 on the same data). No
    permutation importance and no figures. With ``log`` and an active run, its metrics are
    logged as ``baseline.<metric>`` and its report as ``evaluation/baseline.json``.
    """
    from sklearn.dummy import DummyClassifier, DummyRegressor

    check_task(task)
    X = features(X)
    y_true = target_array(y)
    check_lengths(X, y_true)
    task = task or infer_task(y_true)
    model = (
        DummyRegressor(strategy="mean")
        if task == "regression"
        else DummyClassifier(strategy="prior")
    )
    model.fit(X, y_true)
    result = evaluate(model, X, y_true, task=task, log=False, importance=False, figures=False)
    result.notes.append(f"baseline: {type(model).__name__}(strategy={model.strategy!r})")
    if log:
        _log_baseline(result)
    return result


def _log_baseline(result: Evaluation) -> None:
    from loopml.tracking.api import active_run

    run = active_run()
    if run is None:
        return
    result.log(run, prefix=BASELINE_PREFIX, artifacts=False)
    run.log_dict(result.to_dict(), "evaluation/baseline.json")


def compare_to_baseline(
    evaluation: Evaluation, baseline_evaluation: Evaluation
) -> dict[str, dict[str, Any]]:
    """For every quality metric both evaluations have: ``{"model", "baseline", "lift",
    "better"}``. ``lift`` is ``model - baseline`` (negative is an improvement for
    ``log_loss, brier_score, rmse, mae``); ``better`` accounts for that direction.
    Latency, size and row counts are left out: they are not about prediction quality."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in evaluation.metrics.items():
        if name in OPERATIONAL or name not in baseline_evaluation.metrics:
            continue
        reference = baseline_evaluation.metrics[name]
        lift = float(value) - float(reference)
        out[name] = {
            "model": float(value),
            "baseline": float(reference),
            "lift": lift,
            "better": bool(lift < 0 if name in LOWER_IS_BETTER else lift > 0),
        }
    return out
