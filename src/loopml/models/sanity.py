"""Sanity check: a model that cannot fit 64 rows it has seen is broken, not under-trained.

Any reasonable learner memorises a tiny training sample. When it cannot, the cause is almost
always in the code (labels shuffled against the rows, features dropped, the wrong loss, a
fit that ignores its input), and finding that before a long training run saves the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.data.frames import require_int
from loopml.errors import InvalidInput, LoopmlError
from loopml.models.evaluation import (
    check_lengths,
    check_task,
    features,
    infer_task,
    take_rows,
    target_array,
)

DEFAULT_MIN_SCORE = {"classification": 0.9, "regression": 0.8}


class OverfitCheckFailed(LoopmlError):
    """The model could not fit a tiny training sample: its implementation is likely broken."""

    def __init__(self, message: str, score: float, threshold: float, n: int) -> None:
        super().__init__(message)
        self.score = score
        self.threshold = threshold
        self.n = n


@dataclass(frozen=True)
class OverfitCheck:
    """A passed check: the training ``score`` (``metric``) on ``n`` rows, and the minimum."""

    score: float
    threshold: float
    n: int
    metric: str
    task: str


def check_overfit_small(
    make_model: Callable[[], Any],
    X: Any,
    y: Any,
    n: int = 64,
    *,
    min_score: float | None = None,
    random_state: int = 0,
    task: str | None = None,
) -> OverfitCheck:
    """Fit ``make_model()`` on ``n`` rows of ``X, y`` and score it on the same rows.

    The sample is stratified for classification (every class kept, shares preserved) and
    uniform for regression; ``n`` beyond the data uses every row. The score is accuracy
    (classification) or r2 (regression); below ``min_score`` (default 0.9 / 0.8) raises
    ``OverfitCheckFailed``.
    """
    if not callable(make_model):
        raise InvalidInput(
            f"make_model: must be a callable that returns a fresh, unfitted model (for "
            f"example `lambda: DecisionTreeClassifier()`), got {type(make_model).__name__}"
        )
    require_int("n", n, minimum=2)
    require_int("random_state", random_state, minimum=0)
    check_task(task)
    if min_score is not None and (
        isinstance(min_score, bool) or not isinstance(min_score, int | float)
    ):
        raise InvalidInput(f"min_score: must be a number, got {min_score!r}")
    X = features(X)
    y_true = target_array(y)
    check_lengths(X, y_true)
    task = task or infer_task(y_true)
    kind = "regression" if task == "regression" else "classification"
    threshold = float(DEFAULT_MIN_SCORE[kind] if min_score is None else min_score)

    rows = _sample(y_true, min(n, len(y_true)), kind, random_state)
    X_small, y_small = take_rows(X, rows), y_true[rows]
    model = make_model()
    if not callable(getattr(model, "fit", None)) or not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"make_model: returned a {type(model).__name__}, which lacks fit() or predict(); "
            "it must return an estimator"
        )
    model.fit(X_small, y_small)
    predictions = np.asarray(model.predict(X_small)).reshape(len(rows))
    score, metric = _score(kind, y_small, predictions)
    if not score >= threshold:  # NaN fails too
        raise OverfitCheckFailed(
            f"the model cannot fit even {len(rows)} training rows: its {metric} on the rows "
            f"it was trained on is {score:.4g}, below the minimum {threshold:.4g}. A working "
            "model memorises a sample this small, so this usually means a broken "
            "implementation: labels shuffled or misaligned with the rows, features dropped "
            "or constant, the wrong loss or target, or a fit() that ignores its input. "
            "Check the pipeline before training on the full data.",
            score=score,
            threshold=threshold,
            n=len(rows),
        )
    return OverfitCheck(score=score, threshold=threshold, n=len(rows), metric=metric, task=task)


def _sample(y: np.ndarray, size: int, kind: str, random_state: int) -> np.ndarray:
    """Row positions: stratified by class (at least one row per class when size allows)."""
    rng = np.random.default_rng(random_state)
    total = len(y)
    if size >= total:
        return np.arange(total)
    if kind == "regression":
        return np.sort(rng.choice(total, size=size, replace=False))
    _, codes = np.unique(np.asarray(y, dtype=str), return_inverse=True)
    counts = np.bincount(codes)
    quota = counts * size / total
    take = np.floor(quota).astype(int)
    if size >= len(counts):
        take = np.maximum(take, 1)
    # hand out what is left to the largest remainders (or take back from the largest quotas)
    order = np.argsort(-(quota - np.floor(quota)))
    i = 0
    while take.sum() < size:
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > size:
        c = int(np.argmax(take))
        take[c] -= 1
    chosen = [
        rng.choice(np.flatnonzero(codes == c), size=int(k), replace=False)
        for c, k in enumerate(take)
        if k > 0
    ]
    return np.sort(np.concatenate(chosen))


def _score(kind: str, y_true: np.ndarray, predictions: np.ndarray) -> tuple[float, str]:
    from sklearn.metrics import accuracy_score, r2_score

    if kind == "regression":
        return float(r2_score(np.asarray(y_true, dtype=np.float64), predictions)), "r2"
    return float(accuracy_score(y_true, predictions)), "accuracy"
