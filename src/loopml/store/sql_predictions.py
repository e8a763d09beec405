"""The prediction half of ``SqlStore``: the prediction-event log, feedback, service stats.

The prediction service appends events in batches off the request path, so the batch write is
the hot path: one transaction, one executemany, JSON through orjson. Ids come from the
service (``uuid4().hex``) and an id already stored is skipped, so a retried batch never
duplicates. A batch is validated whole before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import InvalidInput, NotFound
from loopml.store import validation
from loopml.store.entities import (
    FEEDBACK_KINDS,
    Feedback,
    PredictionEvent,
    ServiceStats,
)
from loopml.store.prediction_rows import (
    ID_RE,
    check_status,
    event_from_row,
    event_row,
    feedback_from_row,
    integer,
    json_text,
    now_ms,
    optional_key,
    positive,
    real,
    stats_from_row,
)
from loopml.store.tables import feedback as feedback_table
from loopml.store.tables import predictions, service_stats

_IN_CHUNK = 5000  # ids per IN (...) list: far below SQLite's and psycopg's parameter limits


class SqlPredictions:
    """Mixed into SqlStore, which provides ``_read`` and ``_write``."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    # -- prediction events ------------------------------------------------------------
    def log_predictions(self, events: Sequence[PredictionEvent]) -> int:
        rows = [event_row(index, event, len(events)) for index, event in enumerate(events)]
        if not rows:
            return 0

        def work(conn: Connection) -> int:
            return _insert_events(conn, rows)

        return self._write(work)

    def get_prediction(self, prediction_id: str) -> PredictionEvent:
        well_formed = isinstance(prediction_id, str) and ID_RE.fullmatch(prediction_id)
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
        return event_from_row(row)

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
            query = query.where(predictions.c.status == check_status(status, "status"))
        if shadow is not None:
            query = query.where(predictions.c.shadow.is_(bool(shadow)))
        if last is not None:
            query = query.order_by(
                predictions.c.time.desc(), predictions.c.prediction_id.desc()
            ).limit(positive("last", last))
        else:
            query = query.order_by(predictions.c.time, predictions.c.prediction_id)
        with self._read() as conn:
            events = [event_from_row(row) for row in conn.execute(query)]
        if last is not None:
            events.reverse()
        return events

    # -- feedback ---------------------------------------------------------------------
    def add_feedback(self, feedback: Feedback) -> Feedback:
        prediction_id = feedback.prediction_id
        if not isinstance(prediction_id, str) or not ID_RE.fullmatch(prediction_id):
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
        optional_key("feedback source", feedback.source)
        if feedback.comment is not None and not isinstance(feedback.comment, str):
            raise InvalidInput(f"feedback comment must be text, not {feedback.comment!r}.")
        label = json_text("feedback label", feedback.label)
        when = integer("feedback time", feedback.time) or now_ms()
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
            found = [feedback_from_row(row) for q in queries for row in conn.execute(q)]
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
            positive("limit", limit)
        )
        with self._read() as conn:
            return [event_from_row(row) for row in conn.execute(query)]

    # -- service stats ------------------------------------------------------------------
    def log_service_stats(self, stats: ServiceStats) -> None:
        validation.model_name(stats.model)
        if not isinstance(stats.instance, str) or not stats.instance:
            raise InvalidInput(f"service stats instance {stats.instance!r} must be 'host:pid'.")
        optional_key("service stats instance", stats.instance)
        row = {
            "model": stats.model,
            "instance": stats.instance,
            "time": integer("service stats time", stats.time),
            "interval_s": real("service stats interval_s", stats.interval_s),
            "requests": integer("service stats requests", stats.requests),
            "rows": integer("service stats rows", stats.rows),
            "errors": json_text("service stats errors", stats.errors),
            "latency_ms": json_text("service stats latency_ms", stats.latency_ms),
            "cpu_percent": real("service stats cpu_percent", stats.cpu_percent),
            "rss_bytes": integer("service stats rss_bytes", stats.rss_bytes),
            "dropped_events": integer("service stats dropped_events", stats.dropped_events),
            "quality": json_text("service stats quality", stats.quality),
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
            return [stats_from_row(row) for row in conn.execute(query)]


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
def _time_window(query: Any, column: Any, since: int | None, until: int | None) -> Any:
    """``since`` inclusive, ``until`` exclusive, both epoch milliseconds."""
    if since is not None:
        query = query.where(column >= integer("since", since))
    if until is not None:
        query = query.where(column < integer("until", until))
    return query
