"""Per-feature contributions for ``POST /explain``: why the model said what it said.

An :class:`Explainer` is built once per served model version (it picks the method and prepares
the background sample) and then answers requests. Every method returns Shapley-value
contributions against the same baseline, the mean model output over the background, so that
``baseline + sum(contributions) == output`` for each instance:

- ``linear``: linear models (also after per-column scalers in a pipeline), exact, in the
  decision-function space (log-odds for logistic regression);
- ``tree_shap``: scikit-learn tree models through ``shap.TreeExplainer`` (the ``explain``
  extra), exact, in the trees' output space (probability for forests, log-odds for boosting).
  Interventional on the background when shap's values add up to the model output; shap 0.51
  misses by up to several percent on many forests and histogram boosting models, and then the
  path-dependent algorithm is used (its baseline is the trees' training mean; ``note`` says so);
- ``exact_shapley`` / ``permutation``: any other model (and the tree models when ``shap`` is
  missing), on probabilities for classifiers and predictions for regressors; exact subset
  enumeration for a few features, antithetic permutation sampling otherwise (the sum is exact,
  each contribution carries a standard error).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.serving.explainers.base import Attributed, Attribution, NotApplicable
from loopml.serving.explainers.linear import LinearAttribution
from loopml.serving.explainers.outputs import agnostic_output, model_input, unwrap
from loopml.serving.explainers.sampling import SamplingAttribution
from loopml.serving.explainers.tree import TreeAttribution, is_tree_model

METHODS = ("auto", "linear", "tree_shap", "sampling")
# model rows per instance: 2 antithetic walks per background row at p=30 (~0.1 s for KNN)
DEFAULT_MAX_EVALS = 12_000


@dataclass
class Explanation:
    """Contributions of each feature to one output per instance, as plain JSON-ready data."""

    method: str  # "linear" | "tree_shap" | "exact_shapley" | "permutation"
    exact: bool
    features: list[str]  # the model's input columns, in order
    # mean model output over the background, one per label (path-dependent tree_shap: over the
    # trees' training data)
    baseline: float | list[float]
    # per instance {feature: value}; {label: {feature: value}} when several labels are explained
    contributions: list[dict[str, Any]]
    output: str  # "log_odds" | "decision_function" | "probability" | "prediction"
    # what each explained output is: the class (binary: the positive class only) or target
    # index; None for a single regression output
    labels: list[str] | None = None
    outputs: list[float] | list[list[float]] | None = None  # baseline + sum, per instance
    standard_errors: list[dict[str, Any]] | None = None  # like contributions; sampled methods
    note: str | None = None  # why a fallback method was used, or the background was cut

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "exact": self.exact,
            "features": list(self.features),
            "baseline": _plain(self.baseline),
            "contributions": _plain(self.contributions),
            "output": self.output,
            "labels": None if self.labels is None else list(self.labels),
            "outputs": _plain(self.outputs),
            "standard_errors": _plain(self.standard_errors),
            "note": self.note,
        }


class Explainer:
    """Built once per served model version (may be expensive: picks the method, prepares the
    background), then called per request. ``explain`` may run concurrently.

    Methods are tried in order (linear, then Tree SHAP interventional and path-dependent for
    tree models, then model-agnostic sampling); the first that applies to the model and adds
    up on the background is used. A request whose Tree SHAP values do not add up to the model
    output goes down the same list, and its ``note`` says so.
    """

    def __init__(
        self,
        model: Any,
        *,
        background: pd.DataFrame,
        features: list[str],
        max_background: int = 100,
        seed: int = 0,
        method: str = "auto",
        max_evals: int = DEFAULT_MAX_EVALS,
    ) -> None:
        self.features = _check_features(features)
        if method not in METHODS:
            raise InvalidInput(f"method: {method!r} is not one of {', '.join(METHODS)}")
        if max_background < 1:
            raise InvalidInput(f"max_background: must be at least 1, got {max_background}")
        if max_evals < 100:
            raise InvalidInput(f"max_evals: must be at least 100, got {max_evals}")
        background = _check_frame(background, self.features, "background")
        if len(background) > max_background:
            background = background.sample(n=max_background, random_state=seed)
        self._background = background.reset_index(drop=True)
        self._model = unwrap(model)
        self._max_evals, self._seed = max_evals, seed
        self._lock = threading.Lock()
        self._candidates = self._plan(method)
        self._built: dict[int, Attribution | None] = {}
        self._reasons: dict[str, list[str]] = {"linear": [], "tree_shap": [], "sampling": []}
        self._first = next(i for i in range(len(self._candidates)) if self._build(i) is not None)
        self._attribution = self._built[self._first]
        wanted = {"linear": "linear", "tree_shap": "tree_shap"}.get(method)
        if wanted is not None and self._attribution.method != wanted:
            raise InvalidInput(
                f"method: {wanted!r} cannot explain this {type(self._model).__name__}: "
                + "; ".join(self._reasons[wanted])
            )

    method = property(lambda self: self._attribution.method)
    exact = property(lambda self: self._attribution.exact)
    output = property(lambda self: self._attribution.output)
    labels = property(lambda self: self._attribution.labels)
    note = property(lambda self: self._attribution.note)

    def explain(self, X: pd.DataFrame) -> Explanation:
        """Contributions for each row of ``X`` (extra columns are ignored)."""
        frame = _check_frame(X, self.features, "X", like=self._background)
        missed: list[str] = []
        for index in range(self._first, len(self._candidates)):
            attribution = self._build(index)
            if attribution is None:
                continue
            try:
                result = attribution.attribute(frame)
            except NotApplicable as exc:
                missed.append(f"{attribution.method} for this request: {exc}")
                continue
            return self._format(attribution, result, missed)
        raise AssertionError("the last candidate, sampling, always applies")  # pragma: no cover

    def _plan(self, method: str) -> list[tuple[str, Callable[[], Attribution]]]:
        """The methods to try, in order; model-agnostic sampling always comes last."""
        model, background = self._model, self._background
        plan: list[tuple[str, Callable[[], Attribution]]] = []
        if method in ("auto", "linear"):
            plan.append(("linear", partial(LinearAttribution, model, background)))
        if method == "tree_shap" or (method == "auto" and is_tree_model(model)):
            for interventional in (True, False):
                build = partial(TreeAttribution, model, background, interventional=interventional)
                plan.append(("tree_shap", build))
        plan.append(("sampling", self._sampling))
        return plan

    def _build(self, index: int) -> Attribution | None:
        """Candidate ``index``, built once; None (with the reason kept) when it does not apply."""
        with self._lock:
            if index not in self._built:
                kind, build = self._candidates[index]
                reason = None
                try:
                    self._built[index] = build()
                except ImportError:
                    reason = "shap is not installed (pip install 'loopml[explain]')"
                except NotApplicable as exc:
                    reason = str(exc)
                if reason is not None:
                    self._built[index] = None
                    if reason not in self._reasons[kind]:
                        self._reasons[kind].append(reason)
            return self._built[index]

    def _sampling(self) -> Attribution:
        model = self._model
        to_input = partial(model_input, model)
        probe = to_input(self._background)
        output = agnostic_output(model, probe, len(self._background))
        tree = self._reasons["tree_shap"]
        return SamplingAttribution(
            output,
            to_input,
            self._background,
            output(probe, len(self._background)),
            max_evals=self._max_evals,
            seed=self._seed,
            note="tree_shap does not apply: " + "; ".join(tree) if tree else None,
        )

    def _format(self, att: Attribution, result: Attributed, missed: list[str]) -> Explanation:
        labels = att.labels
        nested = labels is not None and len(labels) > 1

        def per_label(values: np.ndarray) -> Any:  # (p, k) -> dicts
            if nested:
                return {
                    label: dict(zip(self.features, values[:, c].tolist(), strict=True))
                    for c, label in enumerate(labels)
                }
            return dict(zip(self.features, values[:, 0].tolist(), strict=True))

        def flat(values: np.ndarray) -> Any:  # (k,) -> float or list
            return values.tolist() if nested else float(values[0])

        errors = result.standard_errors
        notes = [*missed, *([att.note] if att.note else [])]
        return Explanation(
            method=att.method,
            exact=att.exact,
            features=list(self.features),
            baseline=flat(np.asarray(att.baseline, dtype=np.float64)),
            contributions=[per_label(values) for values in result.contributions],
            output=att.output,
            labels=None if labels is None else list(labels),
            outputs=[flat(values) for values in result.outputs],
            standard_errors=None if errors is None else [per_label(values) for values in errors],
            note="; ".join(notes) or None,
        )


def _check_features(features: Any) -> list[str]:
    if isinstance(features, str) or not features:
        raise InvalidInput("features: give the model's input columns as a non-empty list")
    names = list(features)
    if not all(isinstance(name, str) for name in names):
        raise InvalidInput(f"features: every column name must be a string, got {names!r}")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidInput(f"features: {duplicated} appear more than once")
    return names


def _check_frame(
    data: Any, features: list[str], field: str, like: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The rows with exactly the model's columns, in order; numeric where the background is."""
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        data = pd.DataFrame.from_records(data)
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput(f"{field}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [name for name in features if name not in data.columns]
    if missing:
        raise InvalidInput(
            f"{field}: missing column(s) {', '.join(map(repr, missing))}; the model needs "
            f"{features}"
        )
    if data.columns.duplicated().any():
        twice = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        raise InvalidInput(f"{field}: column(s) {twice} appear more than once")
    if data.empty:
        raise InvalidInput(f"{field}: has no rows; give at least one row")
    frame = data.loc[:, features]
    if like is None:
        return frame
    frame = frame.copy()
    for name in features:
        expected, column = like[name], frame[name]
        if is_numeric(expected) and not is_numeric(column):
            try:
                frame[name] = pd.to_numeric(column)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"{field}: column {name!r} must be numeric ({exc})") from exc
    return frame


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    )


def _plain(value: Any) -> Any:
    """JSON-safe: built-in floats, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value
