"""The low-confidence policy of loopml.yaml (``serving:``), applied row by row to a batch.

Below ``confidence_threshold`` (the top class probability) a row is:

- ``abstain``: answered with no label, status ``abstained``;
- ``fallback``: answered by the fallback model, status ``fallback``;
- ``review``: answered, status ``review``, and listed by ``GET /review`` until feedback
  resolves it.

Rows at or above the threshold, and every row of a model without probabilities (a
regressor), are ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("abstain", "fallback", "review")
STATUS_OF = {"abstain": "abstained", "fallback": "fallback", "review": "review"}


@dataclass(frozen=True)
class ConfidencePolicy:
    threshold: float
    below: str = "review"
    fallback_model: str | None = None

    @classmethod
    def from_spec(cls, serving: object) -> ConfidencePolicy:
        """From ``ProjectSpec.serving`` (already validated by the spec)."""
        return cls(
            threshold=float(serving.confidence_threshold),  # type: ignore[attr-defined]
            below=str(serving.below_threshold),  # type: ignore[attr-defined]
            fallback_model=serving.fallback_model,  # type: ignore[attr-defined]
        )

    def low(self, confidence: np.ndarray | None) -> np.ndarray | None:
        """Mask of rows below the threshold (None when the model gives no confidence)."""
        if confidence is None:
            return None
        return confidence < self.threshold

    @property
    def status(self) -> str:
        return STATUS_OF[self.below]
