"""Model-agnostic interventional Shapley values, in numpy, for any model that scores a frame.

The value of a set of features S for instance x is ``mean over background rows b of
f(x on S, b elsewhere)``. Two estimators, chosen by the evaluation budget:

- ``exact_shapley``: every subset of features (``(2^p - 2) * m + 1`` model rows per instance
  for ``m`` background rows), for a handful of features;
- ``permutation``: antithetic permutation sampling. Each background row is paired with the same
  number of random feature orders and their reverses; walking an order from ``b`` to ``x`` adds
  one feature at a time and credits each step's change to that feature. The steps of one walk
  sum to ``f(x) - f(b)`` and every background row is used equally, so the contributions sum to
  ``f(x) - mean f(background)`` exactly, whatever the sampling error of each one.

Orders are drawn once, from the seed, when the explainer is built: the same instance always
gets the same explanation, wherever it sits in a request.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np
import pandas as pd

from loopml.serving.explainers.base import Attributed
from loopml.serving.explainers.outputs import ModelOutput

CHUNK_ROWS = 50_000  # model rows per call when a request holds several instances
MIN_BACKGROUND = 10  # below this the baseline itself is too noisy to shrink the background for


class SamplingAttribution:
    def __init__(
        self,
        output: ModelOutput,
        to_model_input: Callable[[pd.DataFrame], object],
        background: pd.DataFrame,
        background_outputs: np.ndarray,
        *,
        max_evals: int,
        seed: int,
        note: str | None = None,
    ) -> None:
        p, m = background.shape[1], len(background)
        self._output, self._to_input = output, to_model_input
        self.output, self.labels, self.note = output.name, output.labels, note
        self.exact = (2**p - 2) * m + 1 <= max_evals
        self.method = "exact_shapley" if self.exact else "permutation"
        if not self.exact and 2 * m * (p - 1) > max_evals:
            m = min(m, max(MIN_BACKGROUND, max_evals // (2 * (p - 1))))
            cut = f"background cut to {m} rows to fit max_evals={max_evals}"
            self.note = f"{note}; {cut}" if note else cut
        self._background = background.iloc[:m].reset_index(drop=True)
        self._f_background = background_outputs[:m]
        self.baseline = self._f_background.mean(axis=0)
        if self.exact:
            self._plan_subsets(p, m)
        else:
            self._plan_permutations(p, m, max(1, max_evals // (2 * m * (p - 1))), seed)
        # the rows of one instance: each mix, then x itself
        self._rows_mask = np.concatenate([self._masks, np.ones((1, p), dtype=bool)])
        self._rows_from_bg = np.append(self._rows_bg, 0)

    def _plan_subsets(self, p: int, m: int) -> None:
        coalitions = np.arange(1, 2**p - 1)
        bits = ((coalitions[:, None] >> np.arange(p)) & 1).astype(bool)
        self._masks = np.repeat(bits, m, axis=0)
        self._rows_bg = np.tile(np.arange(m), len(coalitions))
        sizes = np.array([bin(c).count("1") for c in range(2**p)])
        weights = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)])
        self._without = []  # per feature: coalitions without it, and their weights
        for j in range(p):
            without = np.array([c for c in range(2**p) if not c >> j & 1])
            self._without.append((without, without | (1 << j), weights[sizes[without]]))

    def _plan_permutations(self, p: int, m: int, per_row: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        orders = np.argsort(rng.random((m * per_row, p)), axis=1)
        orders = np.concatenate([orders, orders[:, ::-1]])  # antithetic: each order reversed
        self._pairs = m * per_row
        self._sample_bg = np.tile(np.repeat(np.arange(m), per_row), 2)
        self._rank = np.argsort(orders, axis=1)  # rank[s, j]: step at which j joins x
        steps = np.arange(1, p)
        self._masks = (self._rank[:, None, :] < steps[None, :, None]).reshape(-1, p)
        self._rows_bg = np.repeat(self._sample_bg, p - 1)

    def attribute(self, frame: pd.DataFrame) -> Attributed:
        n, p = frame.shape
        k = len(self.baseline)
        contributions = np.empty((n, p, k))
        outputs = np.empty((n, k))
        errors = None if self.exact else np.empty((n, p, k))
        per_instance = len(self._masks) + 1  # the last row is x itself
        step = max(1, CHUNK_ROWS // per_instance)
        for start in range(0, n, step):
            chunk = np.arange(start, min(n, start + step))
            values = self._evaluate(frame, chunk).reshape(len(chunk), per_instance, k)
            for offset, i in enumerate(chunk):
                f_x, f_mixed = values[offset, -1], values[offset, :-1]
                outputs[i] = f_x
                if self.exact:
                    contributions[i] = self._from_subsets(f_mixed, f_x, p, k)
                else:
                    contributions[i], errors[i] = self._from_walks(f_mixed, f_x, p, k)
        return Attributed(contributions, outputs, errors)

    def _evaluate(self, frame: pd.DataFrame, chunk: np.ndarray) -> np.ndarray:
        """The model on every mixed row of the instances in ``chunk`` (plus each instance)."""
        take_x = np.tile(self._rows_mask, (len(chunk), 1))
        rows_x = np.repeat(chunk, len(self._rows_mask))
        rows_bg = np.tile(self._rows_from_bg, len(chunk))
        columns = {}
        for j, name in enumerate(frame.columns):
            x_col = frame[name].to_numpy()
            bg_col = self._background[name].to_numpy()
            mixed = np.where(take_x[:, j], x_col[rows_x], bg_col[rows_bg])
            dtype = self._background[name].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                mixed = pd.Categorical(mixed, categories=dtype.categories.union(pd.unique(x_col)))
            columns[name] = mixed
        mixed_frame = pd.DataFrame(columns, columns=frame.columns)
        return self._output(self._to_input(mixed_frame), len(mixed_frame))

    def _from_subsets(self, f_mixed: np.ndarray, f_x: np.ndarray, p: int, k: int) -> np.ndarray:
        m = len(self._background)
        value = np.empty((2**p, k))
        value[0], value[-1] = self.baseline, f_x
        value[1:-1] = f_mixed.reshape(2**p - 2, m, k).mean(axis=1)
        phi = np.empty((p, k))
        for j, (without, with_j, weights) in enumerate(self._without):
            phi[j] = weights @ (value[with_j] - value[without])
        return phi

    def _from_walks(
        self, f_mixed: np.ndarray, f_x: np.ndarray, p: int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        samples = len(self._rank)
        walk = np.empty((samples, p + 1, k))
        walk[:, 0] = self._f_background[self._sample_bg]
        walk[:, 1:p] = f_mixed.reshape(samples, p - 1, k)
        walk[:, p] = f_x
        steps = np.diff(walk, axis=1)  # (samples, p, k): change at each step
        credit = np.take_along_axis(steps, self._rank[:, :, None], axis=1)  # per feature
        pairs = (credit[: self._pairs] + credit[self._pairs :]) / 2
        if self._pairs > 1:
            error = pairs.std(axis=0, ddof=1) / np.sqrt(self._pairs)
        else:
            error = np.full((p, k), np.nan)
        return credit.mean(axis=0), error
