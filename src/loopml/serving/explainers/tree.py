"""Exact interventional Tree SHAP for scikit-learn tree models, through the optional ``shap``.

Interventional (with the background sample, not the trees' path counts) so that the baseline is
the mean model output over the background, as for the other methods. What is explained is the
trees' own output: the probability for forests and single trees, the log-odds (or per-class
raw score) for gradient boosting, the prediction for regressors.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.serving.explainers.base import Attributed, NotApplicable
from loopml.serving.explainers.outputs import (
    classifier_output,
    is_classifier,
    numeric_matrix,
    prediction_output,
    split_pipeline,
)

TREE_MODELS = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    }
)


def is_tree_model(model: Any) -> bool:
    """A scikit-learn tree model, bare or after per-column preprocessing in a pipeline."""
    try:
        _, final = split_pipeline(model)
    except NotApplicable:
        return False
    kind = type(final)
    return kind.__name__ in TREE_MODELS and kind.__module__.startswith("sklearn.")


def import_shap() -> Any:
    """``shap``, the optional ``explain`` extra (ImportError when missing), without the
    deprecation warnings its import emits from its plotting modules."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


class TreeAttribution:
    """Interventional Tree SHAP on the background, or (``interventional=False``) shap's
    path-dependent algorithm on the trees' training counts. shap's interventional values do
    not always add up (bootstrapped forests on some data), so every result is checked against
    the model: a miss raises NotApplicable and the caller falls back."""

    method = "tree_shap"
    exact = True

    def __init__(self, model: Any, background: pd.DataFrame, *, interventional: bool) -> None:
        shap = import_shap()
        self._features = list(background.columns)
        self._transform, final = split_pipeline(model)
        raw = self._transform(background)
        z = numeric_matrix(raw, self._features)
        if not type(final).__name__.startswith("Hist"):
            # these trees compare float32 inputs (as the model does); shap would otherwise send
            # the background down the trees in float64 and its values would not add up
            z = z.astype(np.float32).astype(np.float64)
        rows = len(z)
        if not is_classifier(final):
            self._output = prediction_output(final.predict, raw, rows)
        elif hasattr(final, "decision_function"):  # boosting: shap explains the raw score
            self._output = classifier_output(final, "decision_function", raw, rows)
        else:  # forests and single trees: shap explains the probability
            self._output = classifier_output(final, "predict_proba", raw, rows)
        perturbation = "interventional" if interventional else "tree_path_dependent"
        try:
            self._shap = shap.TreeExplainer(
                final,
                data=z if interventional else None,
                feature_perturbation=perturbation,
                model_output="raw",
            )
            expected = np.atleast_1d(np.asarray(self._shap.expected_value, dtype=np.float64))
        except Exception as exc:  # noqa: BLE001 - shap raises many types for unsupported models
            raise NotApplicable(f"shap.TreeExplainer: {type(exc).__name__}: {exc}") from exc
        self.output = self._output.name
        self.labels = self._output.labels
        columns = self._output.columns
        self.baseline = expected if columns is None else expected[columns]
        self.note = (
            None
            if interventional
            else "path-dependent Tree SHAP (shap's interventional values do not add up for "
            "this model): the baseline is the trees' mean output over their training data"
        )
        try:
            self.attribute(background)
        except NotApplicable as exc:
            raise NotApplicable(f"{perturbation} {exc}") from exc

    def attribute(self, frame: pd.DataFrame) -> Attributed:
        raw = self._transform(frame)
        try:
            z = numeric_matrix(raw, self._features)
        except NotApplicable as exc:
            raise InvalidInput(f"X: {exc}; the columns of this tree model must be numeric") from exc
        values = np.asarray(self._shap.shap_values(z, check_additivity=False), dtype=np.float64)
        if values.ndim == 2:
            values = values[:, :, None]
        if self._output.columns is not None:
            values = values[:, :, self._output.columns]
        outputs = self._output(raw, len(z))
        if values.shape[2] != outputs.shape[1]:
            raise NotApplicable(f"shap explains {values.shape[2]} outputs, not {outputs.shape[1]}")
        miss = np.abs(self.baseline + values.sum(axis=1) - outputs)
        if not np.all(miss <= 1e-6 * np.maximum(1.0, np.abs(outputs))):
            raise NotApplicable(
                f"shap values miss the model output by up to {float(np.max(miss)):.3g}"
            )
        return Attributed(values, outputs)
