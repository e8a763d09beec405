"""Prediction-log rows: checking events, feedback and stats on the way in, decoding them out.

A batch of events is validated whole before anything is written; every problem names the
event's index and field.
"""

from __future__ import annotations

import math
import numbers
import re
import time
from decimal import Decimal
from typing import Any

import orjson

from loopml.errors import InvalidInput
from loopml.store import validation
from loopml.store.entities import (
    PREDICTION_STATUSES,
    Feedback,
    PredictionEvent,
    ServiceStats,
)

ID_RE = re.compile(r"[0-9a-f]{32}")
_STATUSES = frozenset(PREDICTION_STATUSES)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_valid_models: set[str] = set()  # names already checked: a batch names one model 10,000 times


def event_row(index: int, event: PredictionEvent, total: int) -> dict[str, Any]:
    """One validated row; a bad event names its index and field and stops the whole batch."""

    def bad(field: str, problem: str) -> InvalidInput:
        return InvalidInput(
            f"prediction event {index} field {field!r}: {problem}. Nothing of this batch of "
            f"{total} events was written."
        )

    pid = event.prediction_id
    if type(pid) is not str or not ID_RE.fullmatch(pid):
        raise bad("prediction_id", f"{pid!r} is not 32 lowercase hex characters (uuid4().hex)")
    status = event.status
    if type(status) is not str or status not in _STATUSES:
        raise bad("status", f"{status!r} is not one of {', '.join(PREDICTION_STATUSES)}")
    model = event.model
    if type(model) is not str or model not in _valid_models:
        try:
            validation.model_name(model)
        except InvalidInput as exc:
            raise bad("model", str(exc).rstrip(".")) from None
        if len(_valid_models) < 10_000:
            _valid_models.add(model)
    version = event.version
    if type(version) is not int:
        if isinstance(version, bool) or not isinstance(version, numbers.Integral):
            raise bad("version", f"{version!r} is not an integer")
        version = int(version)
    if version < 1:
        raise bad("version", f"{version!r} is not a positive integer")
    when = event.time
    if type(when) is not int:
        if isinstance(when, bool) or not isinstance(when, numbers.Integral):
            raise bad("time", f"{when!r} is not an integer (milliseconds since the epoch)")
        when = int(when)
    if not _INT64_MIN <= when <= _INT64_MAX:
        raise bad("time", f"{when!r} does not fit in 64 bits")
    confidence = event.confidence
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
            raise bad("confidence", f"{confidence!r} is not a number")
        confidence = float(confidence)
        if math.isnan(confidence):
            confidence = None
    latency = event.latency_ms
    if type(latency) is not float:
        if isinstance(latency, bool) or not isinstance(latency, numbers.Real):
            raise bad("latency_ms", f"{latency!r} is not a number")
        latency = float(latency)
    if not 0.0 <= latency < math.inf:
        raise bad("latency_ms", f"{latency!r} is not a finite number of milliseconds >= 0")
    row = {
        "prediction_id": pid,
        "model": model,
        "version": version,
        "time": when,
        "inputs": None,
        "outputs": None,
        "confidence": confidence,
        "status": status,
        "latency_ms": latency,
        "shadow": bool(event.shadow),
    }
    for field in ("inputs", "outputs"):
        value = getattr(event, field)
        if not isinstance(value, dict):
            raise bad(field, f"must be a dict of column -> value, not {type(value).__name__}")
        try:
            row[field] = dumps(value)
        except TypeError as exc:
            raise bad(field, f"is not JSON-serialisable ({exc})") from None
    return row


def event_from_row(row: Any) -> PredictionEvent:
    return PredictionEvent(
        row.prediction_id,
        row.model,
        row.version,
        row.time,
        orjson.loads(row.inputs),
        orjson.loads(row.outputs),
        row.confidence,
        row.status,
        row.latency_ms,
        bool(row.shadow),
    )


def feedback_from_row(row: Any) -> Feedback:
    return Feedback(
        prediction_id=row.prediction_id,
        label=orjson.loads(row.label),
        kind=row.kind,
        source=row.source,
        comment=row.comment,
        time=row.time,
        feedback_id=row.feedback_id,
    )


def stats_from_row(row: Any) -> ServiceStats:
    return ServiceStats(
        model=row.model,
        instance=row.instance,
        time=row.time,
        interval_s=row.interval_s,
        requests=row.requests,
        rows=row.rows,
        errors=orjson.loads(row.errors),
        latency_ms=orjson.loads(row.latency_ms),
        cpu_percent=row.cpu_percent,
        rss_bytes=row.rss_bytes,
        dropped_events=row.dropped_events,
        quality=orjson.loads(row.quality),
    )


# -- JSON ------------------------------------------------------------------------------------
def dumps(value: Any) -> str:
    """orjson text; numpy and pandas scalars become Python values, NaN and inf become null."""
    try:
        return orjson.dumps(value, default=plain, option=_JSON_OPTIONS).decode()
    except TypeError as exc:
        if "Dict key must be str" not in str(exc):
            raise
        options = _JSON_OPTIONS | orjson.OPT_NON_STR_KEYS  # e.g. {0: 0.2, 1: 0.8}
        return orjson.dumps(value, default=plain, option=options).decode()


def plain(value: Any) -> Any:
    """orjson's fallback for what it does not know natively."""
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas missing values
        return None
    if hasattr(value, "tolist"):  # numpy scalars and non-contiguous arrays
        return value.tolist()
    if hasattr(value, "isoformat"):  # pandas Timestamp / Timedelta
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def json_text(what: str, value: Any) -> str:
    try:
        return dumps(value)
    except TypeError as exc:
        raise InvalidInput(f"{what} is not JSON-serialisable ({exc}).") from None


# -- checks ----------------------------------------------------------------------------------
def now_ms() -> int:
    return int(time.time() * 1000)


def check_status(status: object, what: str) -> str:
    if type(status) is not str or status not in _STATUSES:
        raise InvalidInput(f"{what} {status!r} is not one of {', '.join(PREDICTION_STATUSES)}.")
    return status  # type: ignore[return-value]


def integer(what: str, value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{what} {value!r} must be an integer.")
    return int(value)


def real(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{what} {value!r} must be a number.")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidInput(f"{what} {value!r} must be a finite number.")
    return result


def positive(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, not {value!r}.")
    return value


def optional_key(what: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {value!r}.")
    if len(value) > validation.KEY_LENGTH:
        raise InvalidInput(
            f"{what} {value[:40]!r}... is {len(value)} characters long; the limit is "
            f"{validation.KEY_LENGTH}."
        )
