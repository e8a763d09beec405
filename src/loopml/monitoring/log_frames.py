"""The prediction log and its feedback, as one frame monitoring can compute on.

One row per prediction (shadow answers excluded unless asked for): the model's inputs as
columns, ``loopml.prediction`` and ``loopml.proba.<class>`` (the names the registered
reference uses, so prediction drift compares like with like), ``time`` (epoch ms),
``version``, ``status``, ``confidence``, ``latency_ms``, and from feedback the newest
``label`` with its ``label_time`` (missing until a label arrives: delayed labels simply fill
in later).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.reference import PREDICTION, PROBA_PREFIX
from loopml.store.base import Store

META_COLUMNS = ("prediction_id", "time", "version", "status", "confidence", "latency_ms")
LABEL = "label"
LABEL_TIME = "label_time"


def parse_window(window: str) -> int:
    """A duration window (``"30m"``, ``"12h"``, ``"1d"``, ``"600s"``) in milliseconds."""
    from loopml.monitoring.performance import parse_window as parse_any

    kind, size = parse_any(window)
    if kind != "time":
        raise InvalidInput(
            f"window: {window!r} is a row count; give --last N for the last N predictions, or "
            "a duration such as '30m', '12h', '1d'"
        )
    return size


def prediction_frame(
    store: Store,
    model: str,
    *,
    window: str | None = None,
    last: int | None = None,
    version: int | None = None,
    now_ms: int | None = None,
    shadow: bool = False,
) -> pd.DataFrame:
    """Predictions of ``model`` in the last ``window`` (or the ``last`` N), with labels."""
    if window is not None and last is not None:
        raise InvalidInput("give --window or --last, not both")
    if last is not None and (not isinstance(last, int) or last < 1):
        raise InvalidInput(f"last: a positive number of predictions, got {last!r}")
    since = None
    if window is not None:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        since = now - parse_window(window)
    events = store.list_predictions(model, version=version, since=since, last=last,
                                    shadow=shadow)
    frame = events_frame(events)
    if frame.empty:
        return frame
    labels = store.list_feedback(model, prediction_ids=frame["prediction_id"].tolist())
    return join_labels(frame, labels)


def events_frame(events: list[Any]) -> pd.DataFrame:
    """PredictionEvents -> one row each (inputs expanded into columns)."""
    if not events:
        return pd.DataFrame(columns=[*META_COLUMNS, PREDICTION, LABEL, LABEL_TIME])
    meta = pd.DataFrame(
        {
            "prediction_id": [e.prediction_id for e in events],
            "time": np.array([e.time for e in events], dtype=np.int64),
            "version": [e.version for e in events],
            "status": [e.status for e in events],
            "confidence": np.array(
                [np.nan if e.confidence is None else e.confidence for e in events], dtype=float
            ),
            "latency_ms": np.array([e.latency_ms for e in events], dtype=float),
        }
    )
    inputs = pd.DataFrame.from_records([e.inputs for e in events])
    outputs: dict[str, Any] = {PREDICTION: [e.outputs.get("prediction") for e in events]}
    classes = _classes(events)
    for c in classes:
        outputs[f"{PROBA_PREFIX}{c}"] = [
            (e.outputs.get("probabilities") or {}).get(c, np.nan) for e in events
        ]
    frame = pd.concat([meta, inputs, pd.DataFrame(outputs)], axis=1)
    frame[PREDICTION] = _numeric_if_possible(frame[PREDICTION])
    return frame


def join_labels(frame: pd.DataFrame, feedback: list[Any]) -> pd.DataFrame:
    """Add the newest label (kind ``label``) of each prediction; suggestions are not truth."""
    newest: dict[str, tuple[int, Any]] = {}
    for item in feedback:
        if item.kind != "label":
            continue
        seen = newest.get(item.prediction_id)
        if seen is None or item.time >= seen[0]:
            newest[item.prediction_id] = (item.time, item.label)
    ids = frame["prediction_id"]
    out = frame.copy()
    out[LABEL] = _numeric_if_possible(
        pd.Series([newest[i][1] if i in newest else None for i in ids], index=frame.index)
    )
    out[LABEL_TIME] = pd.Series(
        [newest[i][0] if i in newest else np.nan for i in ids], index=frame.index, dtype=float
    )
    return out


def _classes(events: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events[:1000]:
        for c in (e.outputs.get("probabilities") or {}):
            seen.setdefault(str(c), None)
    return list(seen)


def _numeric_if_possible(values: pd.Series) -> pd.Series:
    """Labels and predictions arrive as JSON values: make them numbers when they all are,
    integers (nullable) when they are all whole, so class 1 never reads as "1.0"."""
    present = values.dropna()
    if len(present) and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present
    ):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.dropna()
        if len(whole) and bool((whole == np.floor(whole)).all()):
            return numbers.astype("Int64")
        return numbers
    return values
