"""Realized performance: predictions joined to the labels that came back, per window.

Labels arrive late and not for every prediction, so each window reports its predictions,
its labels, and each metric over the labelled rows only with a confidence interval saying
how far to trust it. Recomputing once more labels are in updates the windows they fall in
and leaves the others exactly as they were (every window bootstraps from the same seed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.values import labels_of, python

__all__ = ["compare_to_objectives", "objectives_from_spec", "parse_window", "windowed_metrics"]

CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
TASKS = ("binary", "multiclass", "regression")
_NEEDS_PROBA = ("roc_auc", "log_loss")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|rows?)\s*$")
_BASE = ["window_start", "window_end", "n_predictions", "n_labels", "label_coverage"]
_WINDOW_KEYS = ("window_start", "window_end", "n_labels")
_GOAL_KEYS = ("metric", "op", "threshold", "value", "lower", "upper", "status")

Weighted = Callable[[np.ndarray], float]  # bootstrap counts per row -> metric
_Cols = tuple[str, str, str | None]  # label, prediction, probabilities
_Boot = tuple[float, int, int]  # confidence, n_boot, seed


def parse_window(window: str | int) -> tuple[str, int]:
    """``"1h"`` -> ``("time", 3600000)`` (ms); ``500`` or ``"500 rows"`` -> ``("count", 500)``."""
    if isinstance(window, int | np.integer) and not isinstance(window, bool):
        if window > 0:
            return "count", int(window)
    elif isinstance(window, str) and (match := _WINDOW_RE.match(window)):
        size, unit = int(match[1]), match[2]
        if size > 0:
            return ("count", size) if unit.startswith("row") else ("time", size * _UNIT_MS[unit])
    raise InvalidInput(
        f"window {window!r} is not a window; write a positive duration ('30m', '1h', '1d', "
        "'600s', '500ms') or a positive number of predictions (500 or '500 rows')"
    )


def _check_metrics(task: str, metrics: Sequence[str], proba_col: str | None) -> list[str]:
    if task not in TASKS:
        raise InvalidInput(f"task {task!r} is not known; use one of {', '.join(TASKS)}")
    allowed = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if isinstance(metrics, str) or not metrics:
        raise InvalidInput(f"metrics must be a non-empty list, e.g. {list(allowed[:2])}")
    unknown = [m for m in metrics if m not in allowed]
    if unknown:
        raise InvalidInput(f"metrics {unknown} are not known for {task}; allowed: {list(allowed)}")
    if proba_col is None and (needy := [m for m in metrics if m in _NEEDS_PROBA]):
        raise InvalidInput(f"{needy} need proba_col: the column of predicted probabilities")
    return list(dict.fromkeys(metrics))


def _times_ms(series: pd.Series, name: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise InvalidInput(f"{name} must hold epoch milliseconds (numbers), got {series.dtype}")
    if series.isna().any():
        raise InvalidInput(f"{name} has missing values; every prediction needs a time")
    return series.to_numpy()


def _window_ids(times: np.ndarray, kind: str, size: int) -> tuple[np.ndarray, list[tuple]]:
    """Window number per row and each window's (start, end): aligned ``[start, start+size)``
    for time windows, first and last prediction time for count windows."""
    if kind == "time":
        starts = np.floor_divide(times, size) * size
        keys, ids = np.unique(starts, return_inverse=True)
        return ids, [(python(k), python(k + size)) for k in keys]
    order = np.argsort(times, kind="stable")
    ids = np.empty(len(times), dtype="int64")
    ids[order] = np.arange(len(times)) // size
    firsts, lasts = order[::size], order[np.r_[size - 1 : len(order) : size, len(order) - 1]]
    return ids, [(python(times[a]), python(times[b])) for a, b in zip(firsts, lasts, strict=False)]


def _classes(task: str, labels: pd.Series, preds: pd.Series, given: Sequence | None) -> list:
    if task == "regression":
        return []
    found = labels_of(labels.dropna().to_numpy(), preds.dropna().to_numpy()).tolist()
    classes = [python(c) for c in (given if given is not None else found)]
    try:
        classes = sorted(set(classes))
    except TypeError:
        classes = sorted(set(classes), key=str)
    if task == "binary" and given is None and len(classes) == 1 and classes[0] in (0, 1):
        classes = [False, True] if isinstance(classes[0], bool) else [0, 1]
    if task == "binary" and len(classes) > 2:
        raise InvalidInput(f"task 'binary' needs 2 classes, found {classes[:10]}; pass classes=")
    if len(classes) < 2 and labels.notna().any():  # no label yet: every metric is NaN anyway
        raise InvalidInput(f"found the single class {classes}; pass classes=[...] to name both")
    return classes


def _codes(values: pd.Series, classes: list, name: str) -> np.ndarray:
    codes = pd.Index(classes, dtype=object).get_indexer(values.astype(object).tolist())
    if (codes < 0).any():
        bad = sorted({str(v) for v in values[codes < 0]})[:5]
        raise InvalidInput(f"{name} holds values outside the classes {classes}: {bad}")
    return codes


def _proba(values: pd.Series, task: str, k: int, name: str) -> np.ndarray:
    try:
        if task == "binary":
            arr = values.to_numpy(dtype="float64")
        else:
            arr = np.vstack([np.asarray(v, dtype="float64") for v in values])
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not probabilities ({exc})") from exc
    if arr.shape != ((len(values),) if task == "binary" else (len(values), k)):
        raise InvalidInput(f"{name}: each row must hold {k} class probabilities (sorted classes)")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise InvalidInput(f"{name} must hold probabilities in [0, 1] on every labelled row")
    return arr


def _auc_weighted(score: np.ndarray, positive: np.ndarray) -> Weighted:
    """ROC AUC under row weights: positives ranked above negatives, ties counting half."""
    order = np.argsort(score, kind="stable")
    s, pos = score[order], positive[order].astype("float64")
    group_starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]

    def auc(w: np.ndarray) -> float:
        ws = w[order]
        wp, wn = (
            np.add.reduceat(ws * pos, group_starts),
            np.add.reduceat(ws - ws * pos, group_starts),
        )
        below = np.cumsum(wn) - wn
        total = wp.sum() * wn.sum()
        return float(np.sum(wp * (below + wn / 2)) / total) if total > 0 else math.nan

    return auc


def _prf_weighted(y: np.ndarray, pred: np.ndarray, k: int, metric: str, binary: bool) -> Weighted:
    cell = pred * k + y

    def value(w: np.ndarray) -> float:
        conf = np.bincount(cell, weights=w, minlength=k * k).reshape(k, k)  # [pred, true]
        tp, predicted, actual = np.diag(conf), conf.sum(axis=1), conf.sum(axis=0)
        den = {"precision": predicted, "recall": actual, "f1": predicted + actual}[metric]
        num = 2 * tp if metric == "f1" else tp
        per_class = np.divide(num, den, out=np.zeros(k), where=den > 0)
        if binary:
            return float(per_class[1])
        present = (predicted + actual) > 0  # sklearn's macro: labels seen in y_true or y_pred
        return float(per_class[present].mean())

    return value


def _metric(
    name: str, task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, k: int
) -> tuple[float, Weighted]:
    """The sklearn value on these rows and a weighted twin for bootstrap draws."""
    from sklearn import metrics as skm

    if name in ("rmse", "mae", "r2"):
        sq, ab = (pred - y) ** 2, np.abs(pred - y)
        if name == "rmse":
            return skm.root_mean_squared_error(y, pred), lambda w: math.sqrt(w @ sq / w.sum())
        if name == "mae":
            return skm.mean_absolute_error(y, pred), lambda w: float(w @ ab / w.sum())

        def r2(w: np.ndarray) -> float:
            total = w @ (y * y) - (w @ y) ** 2 / w.sum()  # NaN when y is constant in a draw
            return float(1 - (w @ sq) / total) if total > 1e-9 * (w @ (y * y)) else math.nan

        return skm.r2_score(y, pred), r2
    binary = task == "binary"
    if name == "accuracy":
        return skm.accuracy_score(y, pred), lambda w: float(w @ (y == pred) / w.sum())
    if name in ("f1", "precision", "recall"):
        score = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
        average = {"average": "binary", "pos_label": 1} if binary else {"average": "macro"}
        value = score[name](y, pred, zero_division=0, **average)
        return value, _prf_weighted(y, pred, k, name, binary)
    assert proba is not None
    full = np.column_stack([1 - proba, proba]) if binary else proba
    if name == "log_loss":
        losses = -np.log(np.clip(full[np.arange(len(y)), y], np.finfo("float64").eps, 1.0))
        value = skm.log_loss(y, proba if binary else full, labels=list(range(k)))
        return value, lambda w: float(w @ losses / w.sum())
    present = np.unique(y)
    if len(present) < (2 if binary else k):  # ranking undefined: NaN, not an exception
        return math.nan, lambda w: math.nan
    if binary:
        return skm.roc_auc_score(y, proba), _auc_weighted(proba, y == 1)
    per_class = [_auc_weighted(full[:, c], y == c) for c in range(k)]
    value = skm.roc_auc_score(y, full, multi_class="ovr", average="macro", labels=list(range(k)))
    return value, lambda w: float(np.mean([f(w) for f in per_class]))


def _wilson(hits: int, n: int, confidence: float) -> tuple[float, float]:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p, z2 = hits / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _window_row(
    rows: pd.DataFrame, metrics: list[str], task: str, classes: list, cols: _Cols, boot: _Boot
) -> dict[str, Any]:
    (label_col, prediction_col, proba_col), (confidence, n_boot, seed) = cols, boot
    labelled = rows[rows[label_col].notna()]
    n = len(labelled)
    out: dict[str, Any] = {
        "n_predictions": len(rows),
        "n_labels": n,
        "label_coverage": n / len(rows),
    }
    if n == 0:
        return out | {f: math.nan for m in metrics for f in (m, f"{m}_lower", f"{m}_upper")}
    if labelled[prediction_col].isna().any():
        raise InvalidInput(f"{prediction_col} is missing on labelled rows; every row needs one")
    if task == "regression":
        try:
            y = labelled[label_col].to_numpy(dtype="float64")
            pred = labelled[prediction_col].to_numpy(dtype="float64")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"regression needs numeric labels and predictions ({exc})") from exc
    else:
        y = _codes(labelled[label_col], classes, label_col)
        pred = _codes(labelled[prediction_col], classes, prediction_col)
    proba = None
    if proba_col is not None and any(m in _NEEDS_PROBA for m in metrics):
        proba = _proba(labelled[proba_col], task, len(classes), proba_col)
    scored = {name: _metric(name, task, y, pred, proba, len(classes)) for name in metrics}
    for name, (value, _) in scored.items():
        out[name] = float(value)
    # Wilson score interval for accuracy (closed form); percentile bootstrap for the rest
    if "accuracy" in scored:
        hits = int(np.sum(y == pred))
        out["accuracy_lower"], out["accuracy_upper"] = _wilson(hits, n, confidence)
    resampled = [name for name in metrics if name != "accuracy"]
    draws = np.full((len(resampled), n_boot), math.nan)
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        for b in range(n_boot):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype("float64")
            for j, name in enumerate(resampled):
                draws[j, b] = scored[name][1](w)
    alpha = (1 - confidence) / 2 * 100
    for j, name in enumerate(resampled):
        ok = draws[j][~np.isnan(draws[j])]
        lower, upper = np.percentile(ok, [alpha, 100 - alpha]) if len(ok) else (math.nan,) * 2
        out[f"{name}_lower"], out[f"{name}_upper"] = float(lower), float(upper)
    return out


def windowed_metrics(
    frame: pd.DataFrame,
    *,
    task: str,
    metrics: Sequence[str],
    window: str | int,
    time_col: str = "time",
    label_col: str = "label",
    prediction_col: str = "prediction",
    proba_col: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    classes: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """One row per window: ``window_start``, ``window_end``, ``n_predictions``, ``n_labels``,
    ``label_coverage``, and ``<metric>``, ``<metric>_lower``, ``<metric>_upper`` per metric.

    ``window``: a duration (``"30m"``, ``"1h"``, ``"1d"``, ``"600s"``) over ``time_col`` in
    epoch ms (aligned to the epoch, end exclusive; windows without predictions are not
    listed) or a count of predictions in time order (end: the last one's time). Unlabelled
    rows count as predictions only. Values are sklearn's on the labelled rows (binary:
    positive class = second of the sorted ``classes``, by default those seen in labels and
    predictions; multiclass: macro; ``zero_division=0``); NaN without labels or, for
    roc_auc, with one class. Intervals: Wilson for accuracy, else percentile bootstrap over
    labelled rows (``n_boot`` draws, fixed ``seed``). Binary ``proba_col``: the positive
    class's probability; multiclass: a sequence of probabilities in sorted class order.
    """
    metrics = _check_metrics(task, metrics, proba_col)
    kind, size = parse_window(window)
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise InvalidInput(f"n_boot must be a positive integer, got {n_boot!r}")
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    columns = _BASE + [f for m in metrics for f in (m, f"{m}_lower", f"{m}_upper")]
    if len(frame) == 0:
        return pd.DataFrame(columns=columns)
    needed = [time_col, label_col, prediction_col] + ([proba_col] if proba_col else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInput(f"frame lacks columns {missing}; it has {list(frame.columns)[:20]}")
    times = _times_ms(frame[time_col], time_col)
    found = _classes(task, frame[label_col], frame[prediction_col], classes)
    ids, bounds = _window_ids(times, kind, size)
    cols, boot = (label_col, prediction_col, proba_col), (confidence, n_boot, seed)
    order = np.argsort(ids, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(ids, minlength=len(bounds)))[:-1])
    rows = []
    for (start, end), index in zip(bounds, members, strict=True):
        stats = _window_row(frame.iloc[index], metrics, task, found, cols, boot)
        rows.append({"window_start": start, "window_end": end} | stats)
    return pd.DataFrame(rows, columns=columns)


def objectives_from_spec(spec: Any) -> dict[str, tuple[str, float]]:
    """``{metric: (op, threshold)}`` from a :class:`loopml.project.ProjectSpec`, its
    ``Objectives``, a list of ``Objective``, or a mapping written as in ``loopml.yaml``
    (``{"accuracy": ">= 0.9", "rmse": 3}``) or as tuples (``{"rmse": ("<=", 3.0)}``).
    ``fairness`` goals are not per-window metrics and are left out."""
    from loopml.project.objectives import OPERATORS, ConditionError, parse_condition

    if hasattr(spec, "objective_list"):
        spec = spec.objective_list()
    elif hasattr(spec, "metrics") and callable(spec.metrics):
        spec = spec.metrics()
    out: dict[str, tuple[str, float]] = {}
    if isinstance(spec, Mapping):
        for key, condition in spec.items():
            if key == "fairness":
                continue
            if isinstance(condition, tuple | list) and len(condition) == 2:
                op, threshold = condition
                if op not in OPERATORS or not isinstance(threshold, int | float):
                    raise InvalidInput(f"objective {key!r}: write (op, number); op: {OPERATORS}")
                out[key] = (op, float(threshold))
                continue
            try:
                goal = parse_condition(key, condition)
            except ConditionError as exc:
                raise InvalidInput(f"objective {key!r}: {exc}") from exc
            out[goal.metric] = (goal.op, goal.threshold)
        return out
    for goal in spec:
        if not all(hasattr(goal, a) for a in ("metric", "op", "threshold")):
            raise InvalidInput(f"objectives: {goal!r} is not an Objective(metric, op, threshold)")
        out[goal.metric] = (goal.op, float(goal.threshold))
    return out


def objective_status(op: str, threshold: float, value: float, lower: float, upper: float) -> str:
    """met, missed, or uncertain when the interval straddles the goal; no_data for NaN."""
    from loopml.project.objectives import OPERATORS

    if math.isnan(value):
        return "no_data"
    passes = OPERATORS[op]
    if op == "==" or math.isnan(lower) or math.isnan(upper):
        return "met" if passes(value, threshold) else "missed"
    best, worst = (upper, lower) if op in (">=", ">") else (lower, upper)
    if passes(worst, threshold):
        return "met"
    return "missed" if not passes(best, threshold) else "uncertain"


def compare_to_objectives(
    results: pd.DataFrame, objectives: Any, *, skip_unmeasured: bool = False
) -> list[dict[str, Any]]:
    """Per window and objective: ``met`` (the whole interval meets it), ``missed`` (none of
    it does), ``uncertain`` (the interval straddles the threshold) or ``no_data`` (no label).
    ``objectives``: whatever :func:`objectives_from_spec` accepts. An objective whose
    metric ``results`` lacks is an error unless ``skip_unmeasured``."""
    goals = objectives_from_spec(objectives)
    unmeasured = [m for m in goals if m not in results.columns]
    if unmeasured and not skip_unmeasured:
        measured = [f"{c}" for c in results.columns if f"{c}_lower" in results.columns]
        raise InvalidInput(
            f"objectives {unmeasured} are not in the results (measured: {measured}); add them "
            "to windowed_metrics(metrics=...) or pass skip_unmeasured=True"
        )
    goals = {metric: goal for metric, goal in goals.items() if metric not in unmeasured}
    out = []
    for row in results.to_dict("records"):
        window = {k: row.get(k) for k in _WINDOW_KEYS}
        for metric, (op, threshold) in goals.items():
            value, lower, upper = (
                float(row.get(f"{metric}{s}", math.nan)) for s in ("", "_lower", "_upper")
            )
            status = objective_status(op, threshold, value, lower, upper)
            fields = (metric, op, threshold, value, lower, upper, status)
            out.append(window | dict(zip(_GOAL_KEYS, fields, strict=True)))
    return out
