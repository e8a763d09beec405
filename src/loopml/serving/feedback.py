"""Feedback bodies -> store records; the human-review queue as JSON.

``POST /feedback`` takes ``{"prediction_id": ..., "label": ...}`` (the true label) or
``{"prediction_id": ..., "suggestion": ..., "source": ...}`` (a user's better answer), with
an optional ``comment``. Either resolves the prediction's place in the review queue.
"""

from __future__ import annotations

import re
from typing import Any

from loopml.serving.payloads import PayloadError, problem
from loopml.store.base import Store
from loopml.store.entities import Feedback, PredictionEvent

_ID = re.compile(r"^[0-9a-f]{32}$")
_FIELDS = {"prediction_id", "label", "suggestion", "source", "comment"}


def parse_feedback(payload: Any) -> Feedback:
    """Check a feedback body; every problem names its field."""
    if not isinstance(payload, dict):
        raise PayloadError(
            422, "expected a JSON object", [problem(None, "body", type(payload).__name__)]
        )
    problems = [
        problem(None, str(k), "unexpected field; use prediction_id, label or suggestion, "
                "source, comment")
        for k in payload
        if k not in _FIELDS
    ]
    pid = payload.get("prediction_id")
    if not isinstance(pid, str) or not _ID.match(pid):
        problems.append(
            problem(None, "prediction_id", "must be the 32-character id /predict returned")
        )
    has_label, has_suggestion = "label" in payload, "suggestion" in payload
    if has_label == has_suggestion:
        problems.append(
            problem(None, "label", "give exactly one of 'label' (the truth) or 'suggestion'")
        )
    value = payload.get("label" if has_label else "suggestion")
    if (has_label or has_suggestion) and (value is None or isinstance(value, dict | list)):
        field = "label" if has_label else "suggestion"
        problems.append(problem(None, field, "must be a single value (string, number, bool)"))
    source = payload.get("source")
    if source is not None and (not isinstance(source, str) or not 0 < len(source) <= 250):
        problems.append(problem(None, "source", "must be a non-empty string of <= 250 characters"))
    comment = payload.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 10_000):
        problems.append(problem(None, "comment", "must be a string of <= 10000 characters"))
    if problems:
        raise PayloadError(422, "the feedback is not valid", problems)
    return Feedback(
        prediction_id=pid,
        label=value,
        kind="label" if has_label else "suggestion",
        source=source,
        comment=comment,
    )


def add_feedback(store: Store, payload: Any) -> dict[str, Any]:
    """Store the feedback; NotFound (-> 404) when the prediction id is unknown."""
    stored = store.add_feedback(parse_feedback(payload))
    return {
        "feedback_id": stored.feedback_id,
        "prediction_id": stored.prediction_id,
        "kind": stored.kind,
        "time": stored.time,
    }


def review_items(store: Store, model: str, limit: int) -> list[dict[str, Any]]:
    return [_item(e) for e in store.review_queue(model, limit=limit)]


def _item(event: PredictionEvent) -> dict[str, Any]:
    return {
        "prediction_id": event.prediction_id,
        "time": event.time,
        "version": event.version,
        "inputs": event.inputs,
        "outputs": event.outputs,
        "confidence": event.confidence,
    }
