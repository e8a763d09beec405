"""The prediction half of ``SqlStore``: the prediction-event log, feedback, service stats.

The prediction service appends events in batches off the request path, so the batch write is
the hot path: one transaction, one executemany, JSON through orjson. Ids come from the
service (``uuid4().hex``) and an id already stored is skipped, so a retried batch never
duplicates. A batch is validated whole before anything is written.
"""

from __future__ import annotations

import math
import numbers
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import InvalidInput, NotFound
from loopml.store import validation
from loopml.store.entities import (
    FEEDBACK_KINDS,
    PREDICTION_STATUSES,
    Feedback,
    PredictionEvent,
    ServiceStats,
)
from loopml.store.tables import feedback as feedback_table
from loopml.store.tables import predictions, service_stats

_ID_RE = re.compile(r"[0-9a-f]{32}")
_STATUSES = frozenset(PREDICTION_STATUSES)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_IN_CHUNK = 5000  # ids per IN (...) list: far below SQLite's and psycopg's parameter limits
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_valid_models: set[str] = set()  # names already checked: a batch names one model 10,000 times


class SqlPredictions:
    """Mixed into SqlStore, which provides ``_read`` and ``_write``."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    # -- prediction events ------------------------------------------------------------
    def log_predictions(self, events: Sequence[PredictionEvent]) -> int:
        rows = [_event_row(index, event, len(events)) for index, event in enumerate(events)]
        if not rows:
            return 0

        def work(conn: Connection) -> int:
            return _insert_events(conn, rows)

        return self._write(work)

    def get_prediction(self, prediction_id: str) -> PredictionEvent:
        well_formed = isinstance(prediction_id, str) and _ID_RE.fullmatch(prediction_id)
        row = None
        if well_formed:
            with self._read() as conn:
                row = conn.execute(
                    sa.select(predictions).where(predictions.c.prediction_id == prediction_id)
                ).first()
        if row is None:
            hint = "" if well_formed else " (prediction ids are 32 lowercase hex characters)"
            raise NotFound(
                f"prediction {prediction_id!r} was never logged{hint}; use an id from the "
                "prediction_ids of a /predict response, and note that events reach the log "
                "a moment after the response."
            )
        return _event(row)

    def list_predictions(
        self,
        model: str,
        *,
        version: int | None = None,
        since: int | None = None,
        until: int | None = None,
        last: int | None = None,
        status: str | None = None,
        shadow: bool | None = False,
    ) -> list[PredictionEvent]:
        validation.model_name(model)
        query = sa.select(predictions).where(predictions.c.model == model)
        if version is not None:
            query = query.where(predictions.c.version == validation.version_number(version))
        query = _time_window(query, predictions.c.time, since, until)
        if status is not None:
            query = query.where(predictions.c.status == _status(status, "status"))
        if shadow is not None:
            query = query.where(predictions.c.shadow.is_(bool(shadow)))
        if last is not None:
            query = query.order_by(
                predictions.c.time.desc(), predictions.c.prediction_id.desc()
            ).limit(_positive("last", last))
        else:
            query = query.order_by(predictions.c.time, predictions.c.prediction_id)
        with self._read() as conn:
            events = [_event(row) for row in conn.execute(query)]
        if last is not None:
            events.reverse()
        return events

    # -- feedback ---------------------------------------------------------------------
    def add_feedback(self, feedback: Feedback) -> Feedback:
        prediction_id = feedback.prediction_id
        if not isinstance(prediction_id, str) or not _ID_RE.fullmatch(prediction_id):
            raise InvalidInput(
                f"feedback prediction_id {prediction_id!r} is not a prediction id: use the "
                "32 lowercase hex characters returned in prediction_ids by /predict."
            )
        if feedback.kind not in FEEDBACK_KINDS:
            raise InvalidInput(
                f"feedback kind {feedback.kind!r} is not allowed; use 'label' (the true "
                "answer) or 'suggestion' (a better answer proposed by a user)."
            )
        if feedback.label is None:
            raise InvalidInput("feedback label is missing; give the true or suggested answer.")
        _optional_key("feedback source", feedback.source)
        if feedback.comment is not None and not isinstance(feedback.comment, str):
            raise InvalidInput(f"feedback comment must be text, not {feedback.comment!r}.")
        label = _json("feedback label", feedback.label)
        when = _integer("feedback time", feedback.time) or _now_ms()
        row = {
            "prediction_id": prediction_id,
            "time": when,
            "label": label,
            "kind": feedback.kind,
            "source": feedback.source,
            "comment": feedback.comment,
        }

        def work(conn: Connection) -> int:
            known = conn.execute(
                sa.select(predictions.c.prediction_id).where(
                    predictions.c.prediction_id == prediction_id
                )
            ).first()
            if known is None:
                raise NotFound(
                    f"cannot add feedback: prediction {prediction_id!r} was never logged. Use "
                    "an id from the prediction_ids of a /predict response (events reach the "
                    "log a moment after the response; retry shortly if it was just made)."
                )
            result = conn.execute(feedback_table.insert(), row)
            return int(result.inserted_primary_key[0])

        feedback_id = self._write(work)
        return replace(feedback, label=orjson.loads(label), time=when, feedback_id=feedback_id)

    def list_feedback(
        self,
        model: str,
        *,
        since: int | None = None,
        until: int | None = None,
        prediction_ids: Sequence[str] | None = None,
    ) -> list[Feedback]:
        validation.model_name(model)
        query = (
            sa.select(feedback_table)
            .join(predictions, predictions.c.prediction_id == feedback_table.c.prediction_id)
            .where(predictions.c.model == model)
        )
        query = _time_window(query, feedback_table.c.time, since, until)
        query = query.order_by(feedback_table.c.time, feedback_table.c.feedback_id)
        if prediction_ids is None:
            queries: Iterable[Any] = [query]
        else:
            ids = sorted(set(prediction_ids))
            queries = [
                query.where(feedback_table.c.prediction_id.in_(ids[i : i + _IN_CHUNK]))
                for i in range(0, len(ids), _IN_CHUNK)
            ]
        with self._read() as conn:
            found = [_feedback(row) for q in queries for row in conn.execute(q)]
        if prediction_ids is not None and len(queries) > 1:
            found.sort(key=lambda f: (f.time, f.feedback_id))
        return found

    def review_queue(self, model: str | None = None, *, limit: int = 100) -> list[PredictionEvent]:
        answered = sa.exists().where(feedback_table.c.prediction_id == predictions.c.prediction_id)
        query = sa.select(predictions).where(
            predictions.c.status == "review",
            predictions.c.shadow.is_(False),  # a shadow answer was never shown to anyone
            ~answered,
        )
        if model is not None:
            query = query.where(predictions.c.model == validation.model_name(model))
        query = query.order_by(predictions.c.time, predictions.c.prediction_id).limit(
            _positive("limit", limit)
        )
        with self._read() as conn:
            return [_event(row) for row in conn.execute(query)]

    # -- service stats ------------------------------------------------------------------
    def log_service_stats(self, stats: ServiceStats) -> None:
        validation.model_name(stats.model)
        if not isinstance(stats.instance, str) or not stats.instance:
            raise InvalidInput(f"service stats instance {stats.instance!r} must be 'host:pid'.")
        _optional_key("service stats instance", stats.instance)
        row = {
            "model": stats.model,
            "instance": stats.instance,
            "time": _integer("service stats time", stats.time),
            "interval_s": _real("service stats interval_s", stats.interval_s),
            "requests": _integer("service stats requests", stats.requests),
            "rows": _integer("service stats rows", stats.rows),
            "errors": _json("service stats errors", stats.errors),
            "latency_ms": _json("service stats latency_ms", stats.latency_ms),
            "cpu_percent": _real("service stats cpu_percent", stats.cpu_percent),
            "rss_bytes": _integer("service stats rss_bytes", stats.rss_bytes),
            "dropped_events": _integer("service stats dropped_events", stats.dropped_events),
            "quality": _json("service stats quality", stats.quality),
        }

        def work(conn: Connection) -> None:
            conn.execute(service_stats.insert(), row)

        self._write(work)

    def list_service_stats(
        self, model: str, *, since: int | None = None, until: int | None = None
    ) -> list[ServiceStats]:
        validation.model_name(model)
        query = sa.select(service_stats).where(service_stats.c.model == model)
        query = _time_window(query, service_stats.c.time, since, until)
        query = query.order_by(service_stats.c.time, service_stats.c.id)
        with self._read() as conn:
            return [_stats(row) for row in conn.execute(query)]


_EVENT_COLUMNS = (
    ("prediction_id", "varchar"),
    ("model", "varchar"),
    ("version", "integer"),
    ("time", "bigint"),
    ("inputs", "json"),
    ("outputs", "json"),
    ("confidence", "double precision"),
    ("status", "varchar"),
    ("latency_ms", "double precision"),
    ("shadow", "boolean"),
)
_PG_INSERT_EVENTS = (
    "INSERT INTO predictions ("
    + ", ".join(f'"{name}"' for name, _ in _EVENT_COLUMNS)
    + ") SELECT "
    + ", ".join(f'r."{name}"' + ("::text" * (kind == "json")) for name, kind in _EVENT_COLUMNS)
    + " FROM json_to_recordset(%(rows)s::json) AS r("
    + ", ".join(f'"{name}" {kind}' for name, kind in _EVENT_COLUMNS)
    + ") ON CONFLICT (prediction_id) DO NOTHING"
)
_SQLITE_INSERT_EVENTS = (
    "INSERT INTO predictions ("
    + ", ".join(f'"{name}"' for name, _ in _EVENT_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" for _ in _EVENT_COLUMNS)
    + ") ON CONFLICT (prediction_id) DO NOTHING"
)


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose id is new; return how many that was.

    SQLite: one executemany of plain tuples straight to the driver (half the time of
    SQLAlchemy's per-row processing), whose rowcount counts only the inserted rows. PostgreSQL: the
    whole batch as one JSON document expanded by ``json_to_recordset``: one round trip, an
    exact rowcount, and 2-3x faster than an executemany (whose rowcount is -1 on psycopg) or
    ``unnest`` of arrays (psycopg escapes every array element in Python). A ``json`` value
    keeps its text verbatim, so the stored text is exactly what orjson wrote."""
    if conn.dialect.name == "sqlite":
        names = [name for name, _ in _EVENT_COLUMNS]
        values = [tuple(row[name] for name in names) for row in rows]
        return int(conn.exec_driver_sql(_SQLITE_INSERT_EVENTS, values).rowcount)
    document = orjson.dumps(
        [
            {
                **row,
                "inputs": orjson.Fragment(row["inputs"]),
                "outputs": orjson.Fragment(row["outputs"]),
            }
            for row in rows
        ]
    )
    return int(conn.exec_driver_sql(_PG_INSERT_EVENTS, {"rows": document.decode()}).rowcount)


# -- rows <-> records ------------------------------------------------------------------------
def _event_row(index: int, event: PredictionEvent, total: int) -> dict[str, Any]:
    """One validated row; a bad event names its index and field and stops the whole batch."""

    def bad(field: str, problem: str) -> InvalidInput:
        return InvalidInput(
            f"prediction event {index} field {field!r}: {problem}. Nothing of this batch of "
            f"{total} events was written."
        )

    pid = event.prediction_id
    if type(pid) is not str or not _ID_RE.fullmatch(pid):
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
            row[field] = _dumps(value)
        except TypeError as exc:
            raise bad(field, f"is not JSON-serialisable ({exc})") from None
    return row


def _event(row: Any) -> PredictionEvent:
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


def _feedback(row: Any) -> Feedback:
    return Feedback(
        prediction_id=row.prediction_id,
        label=orjson.loads(row.label),
        kind=row.kind,
        source=row.source,
        comment=row.comment,
        time=row.time,
        feedback_id=row.feedback_id,
    )


def _stats(row: Any) -> ServiceStats:
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
def _dumps(value: Any) -> str:
    """orjson text; numpy and pandas scalars become Python values, NaN and inf become null."""
    try:
        return orjson.dumps(value, default=_plain, option=_JSON_OPTIONS).decode()
    except TypeError as exc:
        if "Dict key must be str" not in str(exc):
            raise
        options = _JSON_OPTIONS | orjson.OPT_NON_STR_KEYS  # e.g. {0: 0.2, 1: 0.8}
        return orjson.dumps(value, default=_plain, option=options).decode()


def _plain(value: Any) -> Any:
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


def _json(what: str, value: Any) -> str:
    try:
        return _dumps(value)
    except TypeError as exc:
        raise InvalidInput(f"{what} is not JSON-serialisable ({exc}).") from None


# -- checks ----------------------------------------------------------------------------------
def _now_ms() -> int:
    return int(time.time() * 1000)


def _status(status: object, what: str) -> str:
    if type(status) is not str or status not in _STATUSES:
        raise InvalidInput(f"{what} {status!r} is not one of {', '.join(PREDICTION_STATUSES)}.")
    return status  # type: ignore[return-value]


def _integer(what: str, value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{what} {value!r} must be an integer.")
    return int(value)


def _real(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{what} {value!r} must be a number.")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidInput(f"{what} {value!r} must be a finite number.")
    return result


def _positive(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, not {value!r}.")
    return value


def _optional_key(what: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {value!r}.")
    if len(value) > validation.KEY_LENGTH:
        raise InvalidInput(
            f"{what} {value[:40]!r}... is {len(value)} characters long; the limit is "
            f"{validation.KEY_LENGTH}."
        )


def _time_window(query: Any, column: Any, since: int | None, until: int | None) -> Any:
    """``since`` inclusive, ``until`` exclusive, both epoch milliseconds."""
    if since is not None:
        query = query.where(column >= _integer("since", since))
    if until is not None:
        query = query.where(column < _integer("until", until))
    return query
