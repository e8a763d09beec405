"""A fast path for the commonest request: all-numeric rows with nothing wrong in them.

``loopml.models.signature.validate`` pays pandas' per-column overhead (milliseconds for a
30-column row), which would dominate single-row latency. When every input column is numeric,
a batch whose cells are all plain ints and floats, in range, with no missing value where none
is allowed, can be checked with a handful of numpy operations. Anything else (strings, None,
NaN, fractional integers, values outside the training range) returns ``None`` and the caller
runs the full validator, which words every problem and warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.models.signature import Signature

_NUMBER_TYPES = frozenset({int, float})


@dataclass(frozen=True)
class NumericPlan:
    columns: list[str]
    integer: np.ndarray  # mask of integer columns
    required: np.ndarray  # mask of columns that take no missing values
    low: np.ndarray  # training minimum (-inf when unknown)
    high: np.ndarray  # training maximum (+inf when unknown)
    casts: dict[str, str]

    @classmethod
    def of(cls, signature: Signature) -> NumericPlan | None:
        """A plan when every input is numeric or integer, else None."""
        specs = signature.inputs
        if not specs or any(s.kind not in ("numeric", "integer") for s in specs):
            return None

        def bound(value: Any, default: float) -> float:
            return float(value) if isinstance(value, int | float) else default

        casts = {
            s.name: s.dtype
            for s in specs
            if s.dtype not in ("float64", "object") and _is_numpy_dtype(s.dtype)
        }
        return cls(
            columns=[s.name for s in specs],
            integer=np.array([s.kind == "integer" for s in specs]),
            required=np.array([not s.nullable for s in specs]),
            low=np.array([bound(s.min, -np.inf) for s in specs]),
            high=np.array([bound(s.max, np.inf) for s in specs]),
            casts=casts,
        )

    def check(self, rows: list[list[Any]]) -> pd.DataFrame | None:
        """The rows as a typed frame if nothing in them needs a message, else None."""
        types = {type(v) for row in rows for v in row}
        if not types <= _NUMBER_TYPES:
            return None
        matrix = np.array(rows, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.columns):
            return None
        with np.errstate(invalid="ignore"):
            if np.isnan(matrix).any():
                return None  # missing values: let the validator decide per column
            if (matrix < self.low).any() or (matrix > self.high).any():
                return None  # out of range: the validator words the warnings
            if self.integer.any():
                ints = matrix[:, self.integer]
                if (np.floor(ints) != ints).any():
                    return None
        frame = pd.DataFrame(matrix, columns=self.columns)
        if self.casts:
            frame = frame.astype(self.casts)
        return frame


def _is_numpy_dtype(dtype: str) -> bool:
    try:
        return isinstance(pd.api.types.pandas_dtype(dtype), np.dtype)
    except TypeError:
        return False
