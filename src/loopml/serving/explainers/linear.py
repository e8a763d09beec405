"""Exact contributions of a linear model: ``w_j * (x_j - mean of x_j over the background)``.

For a decision function ``w . z + b`` these are the interventional Shapley values, so
``baseline + sum(contributions)`` is the model's decision value up to rounding. ``z`` is the
input of the last estimator: a pipeline's scalers and imputers are applied first (they work
column by column, so the contribution of ``z_j`` belongs to input column ``j``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.serving.explainers.base import Attributed, NotApplicable
from loopml.serving.explainers.outputs import (
    ModelOutput,
    classifier_output,
    is_classifier,
    numeric_matrix,
    prediction_output,
    split_pipeline,
)


class LinearAttribution:
    method = "linear"
    exact = True
    note: str | None = None

    def __init__(self, model: Any, background: pd.DataFrame) -> None:
        self._features = list(background.columns)
        self._transform, final = split_pipeline(model)
        if not (hasattr(final, "coef_") and hasattr(final, "intercept_")):
            raise NotApplicable(f"{type(final).__name__} has no coef_ and intercept_")
        raw = self._transform(background)
        z = numeric_matrix(raw, self._features)
        weights = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64))
        if weights.ndim != 2 or weights.shape[1] != z.shape[1]:
            raise NotApplicable(f"coef_ has shape {np.shape(final.coef_)}")
        if is_classifier(final):
            if not hasattr(final, "decision_function"):
                raise NotApplicable(f"{type(final).__name__} has no decision_function")
            output = classifier_output(final, "decision_function", raw, len(z))
        else:
            output = prediction_output(final.predict, raw, len(z))
        decision = output(raw, len(z))
        if decision.shape[1] != weights.shape[0] or intercept.shape[0] not in (1, len(weights)):
            raise NotApplicable(
                f"coef_ has {len(weights)} rows for {decision.shape[1]} decision values"
            )
        linear = z @ weights.T + intercept
        scale = max(1.0, float(np.nanmax(np.abs(decision), initial=0.0)))
        if not np.allclose(linear, decision, rtol=0.0, atol=1e-8 * scale, equal_nan=False):
            raise NotApplicable(f"the output of {type(final).__name__} is not w . x + b")
        self._final_output: ModelOutput = output
        self._weights = weights
        self._mean = z.mean(axis=0)
        self.output = output.name
        self.labels = output.labels
        self.baseline = self._mean @ weights.T + intercept

    def attribute(self, frame: pd.DataFrame) -> Attributed:
        raw = self._transform(frame)
        z = numeric_matrix(raw, self._features)
        bad = ~np.isfinite(z)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise InvalidInput(
                f"X: column {self._features[col]!r} is missing or infinite in row {row}; "
                "this linear model cannot score it (impute it, or add an imputer to the pipeline)"
            )
        contributions = (z - self._mean)[:, :, None] * self._weights.T[None, :, :]
        return Attributed(contributions, self._final_output(raw, len(z)))
