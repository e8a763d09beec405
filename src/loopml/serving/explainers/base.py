"""What every attribution method returns, and how one says it does not apply to a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


class NotApplicable(Exception):
    """This method cannot explain this model; the message says why (shown in ``note``)."""


@dataclass
class Attributed:
    """Arrays for ``n`` instances, ``p`` features and ``k`` explained outputs."""

    contributions: np.ndarray  # (n, p, k)
    outputs: np.ndarray  # (n, k): the explained model output per instance
    standard_errors: np.ndarray | None = None  # (n, p, k) for sampled estimates


class Attribution(Protocol):
    """A method prepared for one model and one background, called once per request."""

    method: str
    exact: bool
    output: str
    labels: list[str] | None
    baseline: np.ndarray  # (k,)
    note: str | None

    def attribute(self, frame: pd.DataFrame) -> Attributed: ...
