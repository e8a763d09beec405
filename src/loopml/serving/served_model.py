"""One loaded model version, ready to answer batches: signature, classes, vectorised predict.

The service holds its models in :class:`ModelSlot`s. A slot is swapped whole when the alias
moves (hot reload), so a batch always runs against one consistent version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.loaded import LoadedModel
from loopml.models.signature import Signature
from loopml.models.values import python
from loopml.serving.fast_checks import NumericPlan

log = logging.getLogger("loopml.serving")

# Estimators whose predict is, by construction, the class of highest predict_proba. For them
# the service calls predict_proba once instead of running the model twice per batch.
_ARGMAX_MODULES = (
    "sklearn.linear_model", "sklearn.ensemble", "sklearn.tree", "sklearn.naive_bayes",
    "sklearn.discriminant_analysis", "sklearn.neural_network",
)


@dataclass
class BatchOutput:
    """What one model said about a batch of rows (arrays aligned with the rows)."""

    predictions: np.ndarray
    probabilities: np.ndarray | None  # (rows, classes)
    confidence: np.ndarray | None  # max class probability per row


@dataclass
class ServedModel:
    """A loaded version plus what serving needs to know about it, computed once."""

    loaded: LoadedModel
    signature: Signature
    classes: list[Any] | None
    numeric_plan: NumericPlan | None = None
    proba_gives_label: bool = False  # predict == classes_[argmax(predict_proba)]

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def version(self) -> int:
        return self.loaded.version.version

    @property
    def columns(self) -> list[str]:
        return self.signature.columns

    @classmethod
    def load(cls, uri: str) -> ServedModel:
        """Load ``uri`` from the registry; refuse a model without a signature."""
        from loopml.models.registry import load_model

        loaded = load_model(uri)
        signature = loaded.signature
        if signature is None:
            raise InvalidInput(
                f"model {loaded.version.uri} has no signature, so requests cannot be checked; "
                "re-register it with input_example=... (a few training rows)"
            )
        classes = getattr(loaded.model, "classes_", None)
        has_proba = hasattr(loaded.model, "predict_proba")
        return cls(
            loaded=loaded,
            signature=signature,
            classes=[python(c) for c in classes] if classes is not None and has_proba else None,
            numeric_plan=NumericPlan.of(signature),
            proba_gives_label=has_proba and _final_module(loaded.model).startswith(_ARGMAX_MODULES),
        )

    def predict(self, frame: pd.DataFrame) -> BatchOutput:
        """Predict a validated frame; probabilities and confidence for classifiers."""
        model = self.loaded.model
        if self.classes is None:
            return BatchOutput(np.asarray(model.predict(frame)), None, None)
        probabilities = np.asarray(model.predict_proba(frame), dtype=np.float64)
        if self.proba_gives_label:
            predictions = np.asarray(model.classes_)[probabilities.argmax(axis=1)]
        else:
            predictions = np.asarray(model.predict(frame))
        return BatchOutput(predictions, probabilities, probabilities.max(axis=1))

    def warm_up(self, frame: pd.DataFrame | None) -> None:
        """Run one prediction before taking traffic, so the first caller pays no lazy setup."""
        if frame is not None and len(frame):
            self.predict(frame[self.columns].head(2))


class ModelSlot:
    """Holds the current ServedModel of a role (champion, challenger, fallback).

    Reading ``slot.model`` is one attribute load, so a swap is atomic for readers: a batch
    takes the reference once and keeps it to the end.
    """

    def __init__(self, uri: str, model: ServedModel) -> None:
        self.uri = uri
        self.model = model

    def swap(self, model: ServedModel) -> ServedModel:
        old, self.model = self.model, model
        return old


def load_served(uri: str) -> ServedModel:
    """Load ``uri`` and warm it up on its registered input example (best effort)."""
    from loopml.models.registry import get_model_version, load_input_example

    served = ServedModel.load(uri)
    try:
        example = load_input_example(get_model_version(f"{served.name}/{served.version}"))
        served.warm_up(example if isinstance(example, pd.DataFrame) else None)
    except Exception as exc:  # noqa: BLE001 - warm-up is best effort
        log.info("warm-up of %s skipped: %s", uri, exc)
    return served


def load_slot(uri: str) -> ModelSlot:
    return ModelSlot(uri, load_served(uri))


def _final_module(model: Any) -> str:
    """Module of the estimator that makes the decision (the last step of a Pipeline)."""
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    return type(final).__module__
