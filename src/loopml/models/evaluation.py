"""``evaluate``: every number a promotion gate or a reviewer needs about one model on one data set.

Quality metrics (the task's standard ones), a per-class report, the confusion matrix,
calibration, latency per row, model size, fairness gaps between groups of sensitive columns,
permutation importance and figures, all in one ``Evaluation``. With a run active, the
metrics, figures and a JSON report are logged to it, so gates read the same names that
``loopml.yaml`` objectives use (``roc_auc``, ``latency_p95_ms``, ``model_size_mb``, ...).

scikit-learn and matplotlib are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import math
import pickle
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.data.frames import require_int
from loopml.errors import InvalidInput
from loopml.models.fairness import (  # noqa: F401 - re-exported: gates and tests use them
    CLASSIFICATION_FAIRNESS,
    FAIRNESS_METRICS,
    REGRESSION_FAIRNESS,
    add_fairness,
    fairness_pairs,
    gap_key,
    positive_scores,
    sensitive_frame,
)
from loopml.models.values import as_positive, json_safe, labels_of, python

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TASKS = ("binary", "multiclass", "regression")
# A float target with more distinct values than this is a regression target.
MAX_FLOAT_CLASSES = 20
LATENCY_REPEATS = 5
LATENCY_BUDGET_S = 10.0
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")


@dataclass
class Evaluation:
    """What ``evaluate`` found. ``metrics`` is flat (name -> float) and is what gets logged;
    the other fields are reports. ``figures`` (matplotlib Figures) are not part of
    ``to_dict()``."""

    task: str
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    labels: list[Any] | None = None
    positive_label: Any = None
    calibration: dict[str, Any] | None = None
    class_balance: dict[str, Any] | None = None
    fairness_gaps: dict[str, float] = field(default_factory=dict)
    fairness_groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    feature_importance: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: numpy values become Python values, NaN and infinities become ``None``."""
        return {
            "task": self.task,
            "metrics": json_safe(self.metrics),
            "per_class": json_safe(self.per_class),
            "confusion_matrix": json_safe(self.confusion_matrix),
            "labels": json_safe(self.labels),
            "positive_label": json_safe(self.positive_label),
            "calibration": json_safe(self.calibration),
            "class_balance": json_safe(self.class_balance),
            "fairness_gaps": json_safe(self.fairness_gaps),
            "fairness_groups": json_safe(self.fairness_groups),
            "feature_importance": json_safe(self.feature_importance),
            "notes": list(self.notes),
        }

    def log(self, run: Any = None, *, prefix: str = "", artifacts: bool = True) -> bool:
        """Log to ``run`` (default: the active run). Metrics (and fairness gaps) go under
        their names with ``prefix``; with ``artifacts`` the figures go to
        ``evaluation/<name>.png`` and the report to ``evaluation/report.json``.
        Returns False (and logs nothing) when no run is given or active."""
        if run is None:
            from loopml.tracking.api import active_run

            run = active_run()
        if run is None:
            return False
        values = {**self.metrics, **self.fairness_gaps}
        run.log_metrics({f"{prefix}{k}": float(v) for k, v in values.items()})
        if artifacts:
            for name, figure in self.figures.items():
                run.log_figure(figure, f"evaluation/{name}.png")
            run.log_dict(self.to_dict(), "evaluation/report.json")
        return True


# -- inputs ---------------------------------------------------------------------------------
def infer_task(y: Any) -> str:
    """``"regression"`` for a float target with non-integer values or more than 20 distinct
    values; else ``"binary"`` (2 classes) or ``"multiclass"``. Pass ``task=`` to override."""
    values = target_array(y)
    return _infer_task(values)


def _infer_task(values: np.ndarray) -> str:
    if values.dtype.kind == "f":
        finite = values[np.isfinite(values)]
        n_distinct = len(np.unique(finite))
        if n_distinct > MAX_FLOAT_CLASSES or not np.all(finite == np.round(finite)):
            return "regression"
    else:
        n_distinct = len(pd.unique(pd.Series(values, dtype=object)))
    if n_distinct < 2:
        raise InvalidInput(
            f"y: has {n_distinct} distinct value(s), so the task cannot be inferred; pass "
            f"task= one of {', '.join(TASKS)}"
        )
    return "binary" if n_distinct == 2 else "multiclass"


def check_task(task: str | None) -> str | None:
    if task is not None and task not in TASKS:
        raise InvalidInput(f"task: {task!r} is not a task; use one of {', '.join(TASKS)} or None")
    return task


def target_array(y: Any, name: str = "y") -> np.ndarray:
    """``y`` as a 1-D numpy array; missing values are refused (they have no true label)."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InvalidInput(
                f"{name}: a frame with {y.shape[1]} columns; pass the single target column"
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series | pd.Index):
        values = y.to_numpy()
        if not isinstance(y.dtype, np.dtype):  # nullable / arrow dtypes
            try:
                values = y.to_numpy(dtype=np.float64 if y.dtype.kind == "f" else None)
            except (TypeError, ValueError):
                values = y.to_numpy(dtype=object)
    elif isinstance(y, str | bytes) or np.isscalar(y) or y is None:
        raise InvalidInput(f"{name}: expected one label per row, got {type(y).__name__}")
    else:
        try:
            values = np.asarray(y)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{name}: cannot read the labels as an array ({exc})") from exc
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise InvalidInput(f"{name}: expected one label per row (1-D), got shape {values.shape}")
    if values.dtype == object:
        converted = pd.Series(values).infer_objects().to_numpy()
        if converted.dtype != object:
            values = converted
    missing = pd.isna(values)
    if missing.any():
        raise InvalidInput(
            f"{name}: {int(missing.sum())} missing label(s) (NaN/None) at row position(s) "
            f"{_positions(missing)}; drop those rows or fill the target before evaluating"
        )
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        infinite = ~np.isfinite(values)
        raise InvalidInput(
            f"{name}: {int(infinite.sum())} infinite value(s) at row position(s) "
            f"{_positions(infinite)}; drop or clip those rows before evaluating"
        )
    return values


def _positions(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    return ", ".join(str(i) for i in rows[:5]) + (", ..." if len(rows) > 5 else "")


def features(X: Any, name: str = "X") -> Any:
    """``X`` as the model will receive it: frames and arrays as given, lists as an array.
    Refuses an empty table or one without rows."""
    if X is None:
        raise InvalidInput(f"{name}: is None; pass the feature table (DataFrame or array)")
    if isinstance(X, list | tuple):
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{name}: cannot read the rows as an array ({exc})") from exc
    if not hasattr(X, "shape"):
        raise InvalidInput(
            f"{name}: a {type(X).__name__} is not a table; pass a pandas DataFrame or a 2-D array"
        )
    if len(X.shape) == 0 or X.shape[0] == 0:
        raise InvalidInput(f"{name}: is empty (no rows); evaluation needs at least one row")
    if len(X.shape) > 1 and X.shape[1] == 0:
        raise InvalidInput(f"{name}: has no columns; pass at least one feature column")
    return X


def n_rows(X: Any) -> int:
    return int(X.shape[0])


def take_rows(X: Any, positions: np.ndarray | slice) -> Any:
    """Rows of ``X`` by position, keeping its type (frame, array, sparse matrix)."""
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[positions]
    return X[positions]


def feature_names(X: Any) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    width = X.shape[1] if len(X.shape) > 1 else 1
    return [str(i) for i in range(width)]


def check_lengths(X: Any, y: np.ndarray) -> None:
    if n_rows(X) != len(y):
        raise InvalidInput(
            f"X has {n_rows(X)} rows but y has {len(y)} labels; they must describe the same "
            "rows in the same order"
        )


def check_model(model: Any) -> None:
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"model: a {type(model).__name__} has no predict() method; pass a fitted model "
            "(a scikit-learn estimator or any object with predict(X))"
        )


# -- evaluate -------------------------------------------------------------------------------
def evaluate(
    model: Any,
    X: Any,
    y: Any,
    *,
    task: str | None = None,
    sensitive: pd.DataFrame | pd.Series | None = None,
    fairness: Sequence[tuple[str, str]] | None = None,
    log: bool = True,
    n_repeats: int = 5,
    random_state: int = 0,
    importance: bool = True,
    figures: bool = True,
    latency_rows: int = 200,
) -> Evaluation:
    """Evaluate a fitted ``model`` on ``X, y``; see the module docstring for what is measured.

    ``sensitive`` holds one column per sensitive attribute, row-aligned with ``X``;
    ``fairness`` lists ``(metric, column)`` pairs (metric in ``FAIRNESS_METRICS``). Given
    ``sensitive`` without ``fairness``, every column gets the accuracy gap (classification)
    or the MAE gap (regression). ``importance=False`` skips permutation importance and
    ``figures=False`` the figures (both are the slow parts). With ``log`` and an active run,
    everything is logged to it (see ``Evaluation.log``); with no active run nothing is.
    """
    check_model(model)
    check_task(task)
    require_int("n_repeats", n_repeats, minimum=1)
    require_int("random_state", random_state, minimum=0)
    require_int("latency_rows", latency_rows, minimum=1)
    X = features(X)
    y_true = target_array(y)
    check_lengths(X, y_true)
    task = task or _infer_task(y_true)
    if task != "regression":
        _check_classes(task, y_true)
    groups = sensitive_frame(sensitive, n_rows(X)) if sensitive is not None else None
    pairs = fairness_pairs(fairness, groups, task)

    if task == "regression":
        y_true = _numeric_target(y_true)

    notes: list[str] = []
    y_pred, latency = _timed_predictions(model, X, latency_rows)
    y_pred = _prediction_array(y_pred, len(y_true), task)
    if task == "regression":
        result = _regression_report(y_true, y_pred)
        proba = proba_classes = None
    else:
        proba, proba_classes = _probabilities(model, X, y_true, notes)
        result = _classification_report(task, model, y_true, y_pred, proba, proba_classes, notes)
    result.metrics.update(latency)
    result.metrics.update(_model_size(model, notes))
    result.metrics["n_rows"] = float(len(y_true))
    result.notes = notes

    if task != "regression":
        _add_class_balance(result, y_true)
    if pairs:
        scores = positive_scores(task, proba)
        add_fairness(result, pairs, groups, y_true, y_pred, proba, proba_classes, scores)
    if importance:
        result.feature_importance = _permutation_importance(
            model, X, y_true, task, result, n_repeats, random_state
        )
    if figures:
        result.figures = _figures(result, y_true, proba, proba_classes)
    if log:
        result.log()
    return result


def _numeric_target(y_true: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"y: task 'regression' needs a numeric target, got values such as "
            f"{y_true[0]!r}; use task='binary' or 'multiclass' for labels"
        ) from None


def _prediction_array(predictions: Any, rows: int, task: str) -> np.ndarray:
    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (rows,):
        raise InvalidInput(
            f"model: predict() returned shape {values.shape} for {rows} rows; evaluate needs "
            "one prediction per row"
        )
    if task == "regression":
        try:
            return values.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(
                "model: predict() returned non-numeric values for a regression task; pass "
                "task='binary' or 'multiclass' if it is a classifier"
            ) from None
    return values


def _check_classes(task: str, y_true: np.ndarray) -> None:
    n_classes = len(pd.unique(pd.Series(y_true, dtype=object)))
    if task == "binary" and n_classes > 2:
        raise InvalidInput(
            f"task: 'binary' but y has {n_classes} classes; use task='multiclass' (or None "
            "to infer it)"
        )


def _timed_predictions(model: Any, X: Any, latency_rows: int) -> tuple[Any, dict[str, float]]:
    """Predictions of the whole ``X`` (the last of 5 timed calls) and the latencies:
    ``latency_ms_per_row`` (median batch time / rows) and ``latency_p95_ms`` (95th
    percentile of single-row calls over the first ``min(latency_rows, n)`` rows).

    A slow model is not made to run for minutes: the batch calls stop once they have taken
    ``LATENCY_BUDGET_S`` together (after the first), the single-row calls likewise (after 5).
    """
    rows = n_rows(X)
    batch_ms: list[float] = []
    predictions = None
    while len(batch_ms) < LATENCY_REPEATS and sum(batch_ms) < LATENCY_BUDGET_S * 1000:
        start = time.perf_counter()
        predictions = model.predict(X)
        batch_ms.append((time.perf_counter() - start) * 1000.0)
    single_ms: list[float] = []
    for i in range(min(latency_rows, rows)):
        if len(single_ms) >= 5 and sum(single_ms) > LATENCY_BUDGET_S * 1000:
            break
        one = take_rows(X, slice(i, i + 1))
        start = time.perf_counter()
        model.predict(one)
        single_ms.append((time.perf_counter() - start) * 1000.0)
    return predictions, {
        "latency_ms_per_row": float(np.median(batch_ms)) / rows,
        "latency_p95_ms": float(np.percentile(single_ms, 95)),
    }


def _model_size(model: Any, notes: list[str]) -> dict[str, float]:
    """Pickled size in MiB (2**20 bytes): measured, never stored."""
    try:
        size = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - any pickling failure only loses this metric
        notes.append(f"model_size_mb omitted: the model cannot be pickled ({exc})")
        return {}
    return {"model_size_mb": size / 2**20}


def _probabilities(
    model: Any, X: Any, y_true: np.ndarray, notes: list[str]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``predict_proba(X)`` and the class of each column (``model.classes_``, else the
    sorted labels of ``y``), or ``(None, None)`` with a note when unavailable."""
    method = getattr(model, "predict_proba", None)
    if not callable(method):
        notes.append("roc_auc, log_loss and calibration omitted: the model has no predict_proba()")
        return None, None
    proba = np.asarray(method(X), dtype=np.float64)
    classes = getattr(model, "classes_", None)
    classes = np.asarray(classes) if classes is not None else np.unique(y_true)
    if proba.ndim != 2 or proba.shape[1] != len(classes) or proba.shape[0] != len(y_true):
        notes.append(
            f"roc_auc, log_loss and calibration omitted: predict_proba() returned shape "
            f"{proba.shape}, expected ({len(y_true)}, {len(classes)}) for classes "
            f"{list(json_safe(classes.tolist()))}"
        )
        return None, None
    return proba, classes


def _classification_report(
    task: str,
    model: Any,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    proba_classes: np.ndarray | None,
    notes: list[str],
) -> Evaluation:
    from sklearn import metrics as skm

    known = [np.asarray(model.classes_)] if getattr(model, "classes_", None) is not None else []
    labels = labels_of(y_true, y_pred, *known)
    positive = None
    if task == "binary":
        classes = proba_classes if proba_classes is not None and len(proba_classes) == 2 else None
        candidates = classes if classes is not None else labels_of(y_true, *known)
        positive = python(candidates[-1])
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive} if task == "binary" else {"average": "macro"}
    )
    values = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaging),
    }
    calibration = None
    if proba is not None and proba_classes is not None:
        values.update(_probability_metrics(task, y_true, proba, proba_classes, positive, notes))
        if task == "binary":
            calibration = _calibration(y_true, proba[:, 1], positive, notes)
            if calibration is not None:
                values["brier_score"] = calibration["brier_score"]
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = {
        str(python(label)): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(labels)
    }
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return Evaluation(
        task=task,
        metrics={k: float(v) for k, v in values.items()},
        per_class=per_class,
        confusion_matrix=matrix.astype(int).tolist(),
        labels=[python(label) for label in labels],
        positive_label=positive,
        calibration=calibration,
    )


def _probability_metrics(
    task: str,
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    positive: Any,
    notes: list[str],
) -> dict[str, float]:
    from sklearn import metrics as skm

    out: dict[str, float] = {}
    present = set(labels_of(y_true).tolist())
    unknown = present - {python(c) for c in classes}
    if unknown:
        notes.append(
            f"roc_auc and log_loss omitted: y holds labels the model never learned "
            f"({sorted(map(str, unknown))})"
        )
        return out
    if len(present) < 2:
        notes.append("roc_auc omitted: y holds a single class, so ranking is undefined")
    elif task == "binary":
        out["roc_auc"] = skm.roc_auc_score(as_positive(y_true, positive), proba[:, 1])
    else:
        try:
            out["roc_auc"] = skm.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=classes
            )
        except ValueError as exc:
            notes.append(f"roc_auc omitted: {exc}")
    out["log_loss"] = skm.log_loss(y_true, proba, labels=classes)
    return out


def _calibration(
    y_true: np.ndarray, scores: np.ndarray, positive: Any, notes: list[str]
) -> dict[str, Any] | None:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    target = as_positive(y_true, positive)
    if not (target.any() and not target.all()):
        notes.append("calibration omitted: y holds a single class")
        return None
    prob_true, prob_pred = calibration_curve(target, scores, n_bins=10)
    edges = np.linspace(0.0, 1.0, 11)  # the bins calibration_curve uses
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=10)
    return {
        "n_bins": 10,
        "strategy": "uniform",
        "prob_true": prob_true.tolist(),
        "prob_pred": prob_pred.tolist(),
        "bin_counts": [int(c) for c in counts if c > 0],
        "brier_score": float(brier_score_loss(target, scores)),
    }


def _regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> Evaluation:
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.float64)
    values = {
        "rmse": math.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred) if len(y_true) > 1 else math.nan,
    }
    return Evaluation(task="regression", metrics={k: float(v) for k, v in values.items()})


def _add_class_balance(result: Evaluation, y_true: np.ndarray) -> None:
    from loopml.data.imbalance import class_balance

    try:
        balance = class_balance(y_true)
    except InvalidInput as exc:
        result.notes.append(f"class balance omitted: {exc}")
        return
    result.class_balance = balance
    if balance["is_imbalanced"]:
        weights = ", ".join(f"{k}: {v:.4g}" for k, v in balance["suggested_class_weights"].items())
        result.notes.append(
            f"classes are imbalanced (majority/minority = {balance['imbalance_ratio']:.3g} > "
            f"{balance['threshold']:g}); consider class_weight='balanced', i.e. {{{weights}}}"
        )


# -- permutation importance -----------------------------------------------------------------
def _permutation_importance(
    model: Any,
    X: Any,
    y_true: np.ndarray,
    task: str,
    result: Evaluation,
    n_repeats: int,
    random_state: int,
) -> dict[str, float]:
    """Mean drop of the main score (roc_auc for binary with probabilities, else accuracy;
    r2 for regression) when one column is shuffled, largest first."""
    from sklearn.inspection import permutation_importance

    if len(X.shape) != 2:
        result.notes.append("feature importance omitted: X is not a 2-D table")
        return {}
    scorer, name = _main_scorer(model, task, result)
    # sklearn insists on an object with fit(); a predict-only model (pyfunc) gets a shim
    estimator = model if callable(getattr(model, "fit", None)) else _Fitted(model)
    try:
        found = permutation_importance(
            estimator, X, y_true, scoring=scorer, n_repeats=n_repeats, random_state=random_state
        )
    except Exception as exc:  # noqa: BLE001 - a model that rejects shuffled input loses only this
        result.notes.append(f"feature importance omitted: {type(exc).__name__}: {exc}")
        return {}
    result.notes.append(f"feature importance: mean drop of {name} over {n_repeats} shuffles")
    pairs = zip(feature_names(X), found.importances_mean, strict=True)
    return {k: float(v) for k, v in sorted(pairs, key=lambda kv: -kv[1])}


class _Fitted:
    """A fitted, predict-only model seen through the estimator interface sklearn checks for
    (``fit`` is never called: permutation importance only scores)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X: Any, y: Any = None) -> _Fitted:
        return self

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.model.predict_proba(X)


def _main_scorer(model: Any, task: str, result: Evaluation) -> tuple[Callable[..., float], str]:
    from sklearn import metrics as skm

    if task == "regression":
        return (
            lambda m, X, y: skm.r2_score(np.asarray(y, dtype=np.float64), m.predict(X)),
            "r2",
        )
    if task == "binary" and "roc_auc" in result.metrics:
        positive = result.positive_label
        return (
            lambda m, X, y: skm.roc_auc_score(as_positive(y, positive), m.predict_proba(X)[:, 1]),
            "roc_auc",
        )
    return (lambda m, X, y: skm.accuracy_score(y, np.asarray(m.predict(X)).ravel()), "accuracy")


# -- figures --------------------------------------------------------------------------------
def _figures(
    result: Evaluation,
    y_true: np.ndarray,
    proba: np.ndarray | None,
    proba_classes: np.ndarray | None,
) -> dict[str, Figure]:
    from loopml.models import figures as draw

    out: dict[str, Figure] = {}
    if result.confusion_matrix is not None and result.labels is not None:
        out["confusion_matrix"] = draw.confusion_matrix_figure(
            result.confusion_matrix, result.labels
        )
    if proba is not None and proba_classes is not None and "roc_auc" in result.metrics:
        out["roc_curve"] = draw.roc_figure(
            y_true, proba, [python(c) for c in proba_classes], result.positive_label
        )
    if result.calibration is not None:
        out["calibration"] = draw.calibration_figure(result.calibration)
    if result.feature_importance:
        out["feature_importance"] = draw.importance_figure(result.feature_importance)
    return out


# -- JSON -----------------------------------------------------------------------------------
