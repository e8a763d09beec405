"""Class imbalance of a target: counts, shares, imbalance ratio and suggested class weights.

A model trained on a target where one class dominates can look accurate while never
predicting the rare class; reporting the balance (and the weights that would even it out)
makes that visible before anyone trusts an accuracy figure. Pure numpy/pandas, no sklearn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput

DEFAULT_THRESHOLD = 1.5


def class_balance(y: Any, *, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Describe how the classes of ``y`` are balanced, as plain JSON-serialisable data.

    Returns ``counts`` and ``shares`` per class (keys are the labels as ``str``, in sorted
    label order), ``n_samples`` (non-missing labels), ``n_missing``, ``n_classes``,
    ``majority_class``, ``minority_class``, ``imbalance_ratio`` (majority count / minority
    count), ``is_imbalanced`` (ratio > ``threshold``), ``threshold`` and
    ``suggested_class_weights``: scikit-learn's ``"balanced"`` weights
    ``n_samples / (n_classes * count)``, ready to pass as ``class_weight`` once the keys are
    mapped back to labels. Missing labels are left out of every count.

    Raises ``InvalidInput`` for an empty ``y``, all-missing labels or a single class.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise InvalidInput(f"threshold: must be a number >= 1, got {threshold!r}")
    if not np.isfinite(threshold) or threshold < 1:
        raise InvalidInput(
            f"threshold: must be a finite number >= 1 (a ratio majority/minority), "
            f"got {threshold!r}"
        )
    labels = _labels(y)
    if labels.size == 0:
        raise InvalidInput("y: is empty; class balance needs at least one label per class")
    missing = pd.isna(labels)
    n_missing = int(missing.sum())
    present = labels[~missing]
    if present.size == 0:
        raise InvalidInput(
            f"y: all {n_missing} labels are missing; fill in the target before computing "
            "class balance"
        )
    classes, counts = _unique_counts(present)
    if len(classes) < 2:
        raise InvalidInput(
            f"y: has a single class ({classes[0]!r}); class balance needs at least two "
            "classes. Check that the target column is the right one and was not filtered."
        )
    n_samples = int(counts.sum())
    n_classes = len(classes)
    keys = [str(c) for c in classes]
    if len(set(keys)) != n_classes:
        raise InvalidInput(
            "y: two different labels print the same as text (for example 1 and '1'); use "
            "one type for every label"
        )
    weights = n_samples / (n_classes * counts.astype(np.float64))
    major, minor = int(np.argmax(counts)), int(np.argmin(counts))
    ratio = float(counts[major] / counts[minor])
    return {
        "n_samples": n_samples,
        "n_missing": n_missing,
        "n_classes": n_classes,
        "counts": {k: int(c) for k, c in zip(keys, counts, strict=True)},
        "shares": {k: float(c / n_samples) for k, c in zip(keys, counts, strict=True)},
        "majority_class": keys[major],
        "minority_class": keys[minor],
        "imbalance_ratio": ratio,
        "is_imbalanced": bool(ratio > threshold),
        "threshold": float(threshold),
        "suggested_class_weights": {k: float(w) for k, w in zip(keys, weights, strict=True)},
    }


def _labels(y: Any) -> np.ndarray:
    """``y`` as a 1-D object-or-native numpy array (a one-column frame is accepted)."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InvalidInput(
                f"y: a frame with {y.shape[1]} columns; pass the single target column"
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series | pd.Index):
        return np.asarray(y.to_numpy(dtype=object) if _is_extension(y) else y.to_numpy())
    if isinstance(y, str | bytes) or np.isscalar(y):
        raise InvalidInput(f"y: expected a sequence of labels, got a single {type(y).__name__}")
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"y: cannot read the labels as an array ({exc})") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInput(f"y: expected one label per row (1-D), got shape {arr.shape}")
    return arr


def _is_extension(values: pd.Series | pd.Index) -> bool:
    """Nullable / arrow dtypes: read as objects so missing values are plain ``NA``/``None``."""
    return not isinstance(values.dtype, np.dtype)


def _unique_counts(values: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted distinct labels and their counts; labels of mixed types sort by their text."""
    try:
        classes, counts = np.unique(values, return_counts=True)
        return [_python(c) for c in classes], counts
    except TypeError:
        series = pd.Series(values, dtype=object)
        tally = series.value_counts(sort=False)
        order = sorted(range(len(tally)), key=lambda i: str(tally.index[i]))
        return [_python(tally.index[i]) for i in order], tally.to_numpy()[order].astype(np.int64)


def _python(value: Any) -> Any:
    """numpy scalars to Python scalars (``1`` rather than ``np.int64(1)`` in reports)."""
    return value.item() if isinstance(value, np.generic) else value
