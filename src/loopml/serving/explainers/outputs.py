"""Which output of a model is explained, and how the model is called on a frame of its features.

Shared by the three methods so that they call a model the way serving does (a frame with the
signature's columns) and name what they explain the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.serving.explainers.base import NotApplicable

# Transformers whose output column j depends only on input column j: a contribution computed on
# the transformed column belongs to the same input column.
PER_COLUMN_TRANSFORMERS = frozenset(
    {
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
        "QuantileTransformer",
        "PowerTransformer",
        "SimpleImputer",
    }
)


@dataclass(frozen=True)
class ModelOutput:
    """One explained output: its name, the labels of its ``k`` columns, and how to compute it."""

    name: str  # "probability" | "log_odds" | "decision_function" | "prediction"
    labels: list[str] | None  # the class (or target) of each column; None for one regression output
    call: Callable[[Any], Any]  # the model's method, on model input
    columns: list[int] | None = None  # which columns of the method's result are explained

    def __call__(self, model_in: Any, rows: int) -> np.ndarray:
        values = as_matrix(self.call(model_in), rows, self.name)
        return values if self.columns is None else values[:, self.columns]


def unwrap(model: Any) -> Any:
    """The estimator inside a registry ``LoadedModel`` (or anything holding one as ``loaded``)."""
    from loopml.models.loaded import LoadedModel

    holder = getattr(model, "loaded", None)
    if isinstance(holder, LoadedModel):
        model = holder
    return model.model if isinstance(model, LoadedModel) else model


def is_sklearn(model: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier as sk_is_classifier

    return bool(sk_is_classifier(model)) if is_sklearn(model) else hasattr(model, "classes_")


def model_input(model: Any, frame: pd.DataFrame) -> Any:
    """The frame, or its array for a scikit-learn estimator fitted on an array (which would
    warn about feature names on every call)."""
    if (
        is_sklearn(model)
        and not hasattr(model, "feature_names_in_")
        and all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes)
    ):
        return frame.to_numpy()
    return frame


def as_matrix(values: Any, rows: int, what: str) -> np.ndarray:
    """A model's result as a float array (rows, k); InvalidInput when it is not numeric."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"model: its {what} output is not numeric ({exc}); a model that only returns class "
            "labels can be explained through predict_proba or decision_function"
        ) from exc
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != rows:
        raise InvalidInput(
            f"model: its {what} output has shape {array.shape} for {rows} rows; expected one "
            "value (or one per class) per row"
        )
    return array


def class_labels(model: Any, k: int) -> list[str]:
    classes = getattr(model, "classes_", None)
    if classes is not None and np.ndim(classes) == 1 and len(classes) == k:
        return [str(c) for c in classes]
    return [str(i) for i in range(k)]


def uses_log_loss(model: Any) -> bool:
    """Whether a binary classifier's decision function is the log-odds of the positive class."""
    name = type(model).__name__
    return name in {"LogisticRegression", "LogisticRegressionCV"} or getattr(
        model, "loss", None
    ) in {"log_loss", "log"}


def classifier_output(model: Any, method: str, probe: Any, rows: int) -> ModelOutput:
    """``predict_proba`` or ``decision_function``: one column (the positive class) for a binary
    classifier, one per class otherwise."""
    call = getattr(model, method)
    k = as_matrix(call(probe), rows, method).shape[1]
    binary = len(getattr(model, "classes_", ())) == 2
    if method == "predict_proba":
        if k == 2:
            return ModelOutput("probability", class_labels(model, 2)[1:], call, [1])
        return ModelOutput("probability", class_labels(model, k), call)
    if k == 1:
        name = "log_odds" if binary and uses_log_loss(model) else "decision_function"
        return ModelOutput(name, class_labels(model, 2)[1:] if binary else None, call)
    return ModelOutput("decision_function", class_labels(model, k), call)


def prediction_output(call: Callable[[Any], Any], probe: Any, rows: int) -> ModelOutput:
    k = as_matrix(call(probe), rows, "prediction").shape[1]
    return ModelOutput("prediction", None if k == 1 else [str(i) for i in range(k)], call)


def agnostic_output(model: Any, probe: Any, rows: int) -> ModelOutput:
    """Probabilities when the model has them, else its decision function, else predictions."""
    if hasattr(model, "predict_proba"):
        return classifier_output(model, "predict_proba", probe, rows)
    if hasattr(model, "decision_function") and is_classifier(model):
        return classifier_output(model, "decision_function", probe, rows)
    if hasattr(model, "predict"):
        return prediction_output(model.predict, probe, rows)
    if callable(model):
        return prediction_output(model, probe, rows)
    raise InvalidInput(
        f"model: a {type(model).__name__} has no predict, predict_proba or decision_function "
        "and is not callable; there is nothing to explain"
    )


def split_pipeline(model: Any) -> tuple[Callable[[pd.DataFrame], Any], Any]:
    """``(transform, final)``: the input of the last estimator, and that estimator.

    A bare estimator is its own final step. A ``Pipeline`` is split only when every earlier
    step works column by column (scalers, imputers), so attributions on the transformed
    columns belong to the same input columns; otherwise NotApplicable.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return (lambda frame: model_input(model, frame)), model
    *head, (_, final) = model.steps
    for name, step in head:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        kind = type(step).__name__
        if (
            kind not in PER_COLUMN_TRANSFORMERS
            or not type(step).__module__.startswith("sklearn.")
            or getattr(step, "add_indicator", False)
        ):
            raise NotApplicable(f"pipeline step {name!r} ({kind}) may mix or add columns")
    if final is None or isinstance(final, str):
        raise NotApplicable("the pipeline ends without an estimator")
    if not any(step is not None and not isinstance(step, str) for _, step in head):
        return (lambda frame: model_input(final, frame)), final
    prefix = model[:-1]
    return (lambda frame: prefix.transform(model_input(model, frame))), final


def numeric_matrix(values: Any, features: list[str]) -> np.ndarray:
    """A transformed input as floats with one column per feature, or NotApplicable."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NotApplicable(f"the model's input is not numeric ({exc})") from exc
    if array.ndim != 2 or array.shape[1] != len(features):
        raise NotApplicable(
            f"the model sees {array.shape[-1]} columns for {len(features)} features"
        )
    return array
