"""Answers of one request, and the prediction events they become in the log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loopml.serving.served_model import BatchOutput, ServedModel
from loopml.store.entities import PredictionEvent


@dataclass
class Answer:
    """One request's share of a batch."""

    model: str
    version: int
    columns: list[str]
    predictions: list[Any]
    probabilities: np.ndarray | None
    classes: list[Any] | None
    statuses: list[str]
    prediction_ids: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def prediction_events(
    served: ServedModel,
    rows: Any,
    answer: Answer,
    output: BatchOutput,
    offset: int,
    latency_ms: float,
) -> list[PredictionEvent]:
    """One event per row: the raw inputs, the answer, its confidence, status and latency."""
    now_ms = int(time.time() * 1000)
    columns = served.columns
    classes = [str(c) for c in served.classes] if served.classes is not None else None
    events = []
    for k, row in enumerate(rows):
        outputs: dict[str, Any] = {"prediction": answer.predictions[k]}
        confidence = None
        if answer.probabilities is not None and classes is not None:
            probs = answer.probabilities[k]
            outputs["probabilities"] = dict(zip(classes, probs.tolist(), strict=True))
            confidence = float(output.confidence[offset + k])  # type: ignore[index]
        events.append(
            PredictionEvent(
                prediction_id=answer.prediction_ids[k],
                model=served.name,
                version=served.version,
                time=now_ms,
                inputs=dict(zip(columns, row, strict=True)),
                outputs=outputs,
                confidence=confidence,
                status=answer.statuses[k],
                latency_ms=latency_ms,
            )
        )
    return events

