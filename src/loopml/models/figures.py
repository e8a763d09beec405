"""Evaluation figures: confusion matrix, ROC curves, reliability diagram, importance bars.

Built on ``matplotlib.figure.Figure`` directly, never pyplot: no global figure registry, no
backend switch (saving to PNG uses the Agg canvas whatever backend the user has set), and
figures are freed when dropped. matplotlib and scikit-learn are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], labels: Sequence[Any]) -> Figure:
    """Counts per (true, predicted) class, shaded by the share of each true class's rows."""
    counts = np.asarray(matrix, dtype=np.int64)
    n = len(labels)
    size = min(3.0 + 0.5 * n, 14.0)
    fig = _figure(size, size * 0.85)
    ax = fig.add_subplot()
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    names = [str(label) for label in labels]
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8 if n > 10 else 10,
                    color="white" if shares[i, j] > 0.5 else "black",
                )
    return fig


def roc_figure(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any], positive: Any = None
) -> Figure:
    """ROC curve of the positive class (binary), or one one-vs-rest curve per class."""
    from sklearn.metrics import auc, roc_curve

    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    y_true = np.asarray(y_true)
    if len(classes) == 2:
        columns = [(1, positive if positive is not None else classes[1])]
    else:
        columns = list(enumerate(classes))
    for column, label in columns:
        target = np.asarray([_python(v) == label for v in y_true], dtype=bool)
        if target.all() or not target.any():
            continue  # no ROC curve for a class that is absent (or alone)
        fpr, tpr, _ = roc_curve(target, proba[:, column])
        name = f"{label}" if len(columns) > 1 else f"positive = {label}"
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve" if len(columns) == 1 else "ROC curves (one vs rest)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration_figure(calibration: Mapping[str, Any]) -> Figure:
    """Reliability diagram: observed share of positives against mean predicted probability."""
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(
        calibration["prob_pred"],
        calibration["prob_true"],
        marker="o",
        label=f"model (Brier {calibration['brier_score']:.3f})",
    )
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed share of positives")
    ax.set_title("Calibration")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def importance_figure(importance: Mapping[str, float], top: int = 20) -> Figure:
    """Horizontal bars of the ``top`` largest permutation importances, largest on top."""
    items = sorted(importance.items(), key=lambda kv: -kv[1])[:top]
    fig = _figure(6.5, 1.2 + 0.3 * max(len(items), 1))
    ax = fig.add_subplot()
    names = [name for name, _ in reversed(items)]
    values = [value for _, value in reversed(items)]
    ax.barh(range(len(items)), values, color="tab:blue")
    ax.set_yticks(range(len(items)), names)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("mean drop of the score when shuffled")
    ax.set_title(f"Permutation importance (top {len(items)})")
    return fig


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
