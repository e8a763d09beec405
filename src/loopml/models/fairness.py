"""Fairness gaps: a metric per group of a sensitive column, and the largest difference.

``gap_key(metric, column)`` names the gap the way loopml.yaml's fairness objectives and the
promotion gates read it (``recall_gap_sex``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.values import as_positive, labels_of, python

if TYPE_CHECKING:
    from loopml.models.evaluation import Evaluation

CLASSIFICATION_FAIRNESS = ("accuracy", "precision", "recall", "f1", "roc_auc", "selection_rate")
REGRESSION_FAIRNESS = ("rmse", "mae")
FAIRNESS_METRICS = CLASSIFICATION_FAIRNESS + REGRESSION_FAIRNESS
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")


def sensitive_frame(sensitive: Any, rows: int) -> pd.DataFrame:
    if isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name="sensitive" if sensitive.name is None else sensitive.name)
    elif isinstance(sensitive, pd.DataFrame):
        frame = sensitive
    else:
        raise InvalidInput(
            f"sensitive: expected a pandas DataFrame or Series, got {type(sensitive).__name__}"
        )
    if len(frame) != rows:
        raise InvalidInput(
            f"sensitive: has {len(frame)} rows but X has {rows}; pass the sensitive columns "
            "of the same rows, in the same order"
        )
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def fairness_pairs(
    fairness: Sequence[tuple[str, str]] | None, groups: pd.DataFrame | None, task: str
) -> list[tuple[str, str]]:
    if fairness is None:
        if groups is None:
            return []
        default = "mae" if task == "regression" else "accuracy"
        return [(default, column) for column in groups.columns]
    if groups is None:
        raise InvalidInput(
            "fairness: needs the sensitive columns; pass sensitive= a DataFrame (or Series) "
            "with one column per attribute, row-aligned with X"
        )
    if isinstance(fairness, str | bytes) or not isinstance(fairness, Sequence):
        raise InvalidInput(
            f"fairness: expected a list of (metric, column) pairs, got {type(fairness).__name__}"
        )
    allowed = fairness_allowed(task)
    pairs = []
    for item in fairness:
        if not (isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2):
            raise InvalidInput(f"fairness: {item!r} is not a (metric, column) pair")
        metric, column = str(item[0]), str(item[1])
        if metric not in allowed:
            other = "" if metric not in FAIRNESS_METRICS else f" for a {task} task"
            raise InvalidInput(
                f"fairness: metric {metric!r} is not available{other}; use one of "
                f"{', '.join(allowed)}"
            )
        if column not in groups.columns:
            raise InvalidInput(
                f"fairness: sensitive column {column!r} not found; available columns: "
                f"{', '.join(map(repr, groups.columns))}"
            )
        pairs.append((metric, column))
    return pairs


def fairness_allowed(task: str) -> tuple[str, ...]:
    if task == "regression":
        return REGRESSION_FAIRNESS
    if task == "binary":
        return CLASSIFICATION_FAIRNESS
    return tuple(m for m in CLASSIFICATION_FAIRNESS if m != "selection_rate")


def gap_key(metric: str, column: str) -> str:
    """The metric name of a fairness gap: ``f"{metric}_gap_{column}"``, with characters a
    metric key cannot hold replaced by ``_`` (so the report and the run use one name)."""
    return _KEY_CHARS.sub("_", f"{metric}_gap_{column}")


def positive_scores(task: str, proba: np.ndarray | None) -> np.ndarray | None:
    return proba[:, 1] if task == "binary" and proba is not None else None


def add_fairness(
    result: Evaluation,
    pairs: list[tuple[str, str]],
    groups: pd.DataFrame,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    proba_classes: np.ndarray | None,
    scores: np.ndarray | None,
) -> None:
    for metric, column in pairs:
        codes, uniques = pd.factorize(groups[column], use_na_sentinel=False)
        per_group: dict[str, float] = {}
        for code, group in enumerate(uniques):
            rows = np.flatnonzero(codes == code)
            name = "<missing>" if is_missing(group) else str(python(group))
            value = group_metric(
                metric,
                result,
                y_true[rows],
                y_pred[rows],
                None if proba is None else proba[rows],
                proba_classes,
                None if scores is None else scores[rows],
            )
            if isinstance(value, str):
                result.notes.append(f"fairness {metric} on {column}={name} skipped: {value}")
                continue
            per_group[name] = float(value)
        result.fairness_groups.setdefault(column, {})[metric] = per_group
        finite = [v for v in per_group.values() if math.isfinite(v)]
        key = gap_key(metric, column)
        if not finite:
            result.fairness_gaps[key] = math.nan
            result.notes.append(f"{key} is undefined: no group of {column!r} could be scored")
            continue
        result.fairness_gaps[key] = float(max(finite) - min(finite))
        if len(finite) == 1:
            result.notes.append(f"{key} compares a single group of {column!r}, so it is 0")


def group_metric(
    metric: str,
    result: Evaluation,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: np.ndarray | None,
    scores: np.ndarray | None,
) -> float | str:
    """The metric on one group, or a string saying why it was skipped."""
    from sklearn import metrics as skm

    positive = result.positive_label
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive}
        if result.task == "binary"
        else {"average": "macro"}
    )
    if metric == "accuracy":
        return skm.accuracy_score(y_true, y_pred)
    if metric in ("precision", "recall", "f1"):
        function = {
            "precision": skm.precision_score,
            "recall": skm.recall_score,
            "f1": skm.f1_score,
        }[metric]
        return function(y_true, y_pred, zero_division=0, **averaging)
    if metric == "selection_rate":
        return float(np.mean(as_positive(y_pred, positive)))
    if metric == "rmse":
        return math.sqrt(skm.mean_squared_error(np.asarray(y_true, dtype=np.float64), y_pred))
    if metric == "mae":
        return skm.mean_absolute_error(np.asarray(y_true, dtype=np.float64), y_pred)
    # roc_auc
    if proba is None:
        return "the model has no usable predict_proba()"
    if len(labels_of(y_true)) < 2:
        return "fewer than 2 classes in the group"
    if result.task == "binary":
        return skm.roc_auc_score(as_positive(y_true, positive), scores)
    try:
        return skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
    except ValueError as exc:
        return str(exc)


def is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
