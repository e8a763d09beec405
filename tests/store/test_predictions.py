"""The prediction-event log, feedback and service stats, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import time
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from loopml.errors import InvalidInput, NotFound
from loopml.store import migrate
from loopml.store.base import open_store
from loopml.store.engine import create_engine
from loopml.store.entities import Feedback, PredictionEvent, ServiceStats


def pid(n: int) -> str:
    return f"{n:032x}"


def event(n: int, **changes) -> PredictionEvent:
    base = PredictionEvent(
        prediction_id=pid(n),
        model="churn",
        version=1,
        time=1_000 + n,
        inputs={"age": 30 + n, "city": "Paris"},
        outputs={"prediction": n % 2},
        confidence=0.9,
        status="ok",
        latency_ms=2.5,
    )
    return dataclasses.replace(base, **changes)


def ids(events) -> list[str]:
    return [e.prediction_id for e in events]


def test_event_round_trips_every_field_with_numpy_scalars_and_nan(store):
    logged = PredictionEvent(
        prediction_id=uuid.uuid4().hex,
        model="churn",
        version=np.int64(3),
        time=np.int64(1_700_000_000_123),
        inputs={
            "age": np.int64(41),
            "income": np.float32(1.5),
            "score": np.float64("nan"),
            "plain_nan": float("nan"),
            "flag": np.bool_(True),
            "city": 'Zürich "quoted" \\ back',
            "missing": None,
            "pandas_na": pd.NA,
            "signup": pd.Timestamp("2024-05-01T12:00:00"),
            "history": np.arange(6)[::2],
        },
        outputs={
            "prediction": np.int64(1),
            "probabilities": {"0": np.float64(0.2), "1": 0.8},
        },
        confidence=np.float64(0.8),
        status="review",
        latency_ms=np.float32(3.25),
        shadow=np.bool_(True),
    )
    assert store.log_predictions([logged]) == 1

    got = store.get_prediction(logged.prediction_id)
    assert got == PredictionEvent(
        prediction_id=logged.prediction_id,
        model="churn",
        version=3,
        time=1_700_000_000_123,
        inputs={
            "age": 41,
            "income": 1.5,
            "score": None,
            "plain_nan": None,
            "flag": True,
            "city": 'Zürich "quoted" \\ back',
            "missing": None,
            "pandas_na": None,
            "signup": "2024-05-01T12:00:00",
            "history": [0, 2, 4],
        },
        outputs={"prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}},
        confidence=0.8,
        status="review",
        latency_ms=3.25,
        shadow=True,
    )
    assert type(got.version) is int and type(got.shadow) is bool
    assert store.list_predictions("churn", shadow=True) == [got]


def test_nan_confidence_is_stored_as_none_and_int_keys_as_text(store):
    store.log_predictions(
        [event(1, confidence=float("nan"), outputs={"probabilities": {0: 0.3, 1: 0.7}})]
    )
    got = store.get_prediction(pid(1))
    assert got.confidence is None
    assert got.outputs == {"probabilities": {"0": 0.3, "1": 0.7}}


def test_retried_batch_never_duplicates(store):
    batch = [event(1), event(2), event(3)]
    assert store.log_predictions(batch) == 3
    assert store.log_predictions(batch) == 0
    assert store.log_predictions([*batch, event(4)]) == 1
    assert store.log_predictions([event(5), event(5)]) == 1
    assert store.log_predictions([]) == 0
    assert ids(store.list_predictions("churn")) == [pid(n) for n in range(1, 6)]


def test_retry_keeps_the_first_stored_event(store):
    store.log_predictions([event(1, status="ok")])
    store.log_predictions([event(1, status="fallback")])
    assert store.get_prediction(pid(1)).status == "ok"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prediction_id": "not-a-uuid"}, "prediction_id"),
        ({"prediction_id": pid(7).upper().replace("0", "A")}, "prediction_id"),
        ({"prediction_id": pid(7)[:31]}, "prediction_id"),
        ({"status": "maybe"}, "status"),
        ({"status": "OK"}, "status"),
        ({"model": "churn@champion"}, "model"),
        ({"version": 0}, "version"),
        ({"version": "1"}, "version"),
        ({"time": 1.5}, "time"),
        ({"confidence": "high"}, "confidence"),
        ({"latency_ms": float("nan")}, "latency_ms"),
        ({"inputs": [1, 2]}, "inputs"),
        ({"outputs": {"prediction": object()}}, "outputs"),
    ],
)
def test_bad_event_names_index_and_field_and_writes_none_of_the_batch(store, change, field):
    batch = [event(1), event(2), event(7, **change), event(8)]
    with pytest.raises(InvalidInput, match=rf"event 2 field '{field}'.*Nothing of this batch"):
        store.log_predictions(batch)
    assert store.list_predictions("churn", shadow=None) == []
    with pytest.raises(NotFound):
        store.get_prediction(pid(1))


def test_unknown_prediction_is_a_helpful_not_found(store):
    with pytest.raises(NotFound, match=rf"'{pid(9)}' was never logged.*prediction_ids"):
        store.get_prediction(pid(9))
    with pytest.raises(NotFound, match="32 lowercase hex"):
        store.get_prediction("42")


def test_list_predictions_filters_and_order(store):
    store.log_predictions(
        [
            event(1, time=100),
            event(2, time=200, version=2),
            event(3, time=200, status="abstained"),  # same time as 2: ordered by id
            event(4, time=300, status="review"),
            event(5, time=400, shadow=True, version=2),
            event(6, time=500),
            event(7, time=250, model="fraud"),
        ]
    )
    every = store.list_predictions("churn", shadow=None)
    assert ids(every) == [pid(n) for n in (1, 2, 3, 4, 5, 6)]
    assert ids(store.list_predictions("churn")) == [pid(n) for n in (1, 2, 3, 4, 6)]
    assert ids(store.list_predictions("churn", shadow=True)) == [pid(5)]
    assert ids(store.list_predictions("churn", version=2, shadow=None)) == [pid(2), pid(5)]
    assert ids(store.list_predictions("churn", since=200, until=400, shadow=None)) == [
        pid(2),
        pid(3),
        pid(4),
    ]
    assert ids(store.list_predictions("churn", since=500)) == [pid(6)]
    assert ids(store.list_predictions("churn", until=100)) == []
    assert ids(store.list_predictions("churn", last=3)) == [pid(3), pid(4), pid(6)]
    assert ids(store.list_predictions("churn", last=2, until=300)) == [pid(2), pid(3)]
    assert ids(store.list_predictions("churn", status="review")) == [pid(4)]
    assert ids(store.list_predictions("fraud")) == [pid(7)]
    assert store.list_predictions("nobody") == []
    with pytest.raises(InvalidInput, match="'maybe'"):
        store.list_predictions("churn", status="maybe")
    with pytest.raises(InvalidInput, match="last"):
        store.list_predictions("churn", last=0)


def test_feedback_on_unknown_prediction_is_not_found_and_stores_nothing(store):
    store.log_predictions([event(1)])
    with pytest.raises(NotFound, match=rf"prediction '{pid(2)}' was never logged"):
        store.add_feedback(Feedback(pid(2), label=1))
    with pytest.raises(InvalidInput, match="prediction_id"):
        store.add_feedback(Feedback("nope", label=1))
    assert store.list_feedback("churn") == []


def test_feedback_kinds_ids_times_and_filters(store):
    store.log_predictions([event(1), event(2), event(3, model="fraud")])
    before = int(time.time() * 1000)
    first = store.add_feedback(Feedback(pid(1), label=np.int64(0), source="crm"))
    assert first.feedback_id is not None and first.time >= before
    assert first.label == 0 and first.kind == "label" and first.source == "crm"
    suggestion = store.add_feedback(
        Feedback(pid(2), label={"prediction": 1}, kind="suggestion", comment="obvious", time=5)
    )
    assert suggestion.time == 5 and suggestion.kind == "suggestion"
    correction = store.add_feedback(Feedback(pid(1), label=1, source="human-review", time=6))
    store.add_feedback(Feedback(pid(3), label=1, time=7))  # another model's prediction
    with pytest.raises(InvalidInput, match="kind 'opinion'"):
        store.add_feedback(Feedback(pid(1), label=1, kind="opinion"))

    assert store.list_feedback("churn") == [suggestion, correction, first]  # by time
    assert store.list_feedback("churn", since=6, until=first.time) == [correction]
    assert store.list_feedback("churn", prediction_ids=[pid(1)]) == [correction, first]
    assert store.list_feedback("churn", prediction_ids=[]) == []
    assert [f.prediction_id for f in store.list_feedback("fraud")] == [pid(3)]


def test_review_queue_holds_unanswered_review_predictions_oldest_first(store):
    store.log_predictions(
        [
            event(1, time=30, status="review"),
            event(2, time=10, status="review"),
            event(3, time=20, status="ok"),
            event(4, time=40, status="review", shadow=True),
            event(5, time=50, status="review", model="fraud"),
            event(6, time=60, status="review"),
        ]
    )
    assert ids(store.review_queue()) == [pid(2), pid(1), pid(5), pid(6)]
    assert ids(store.review_queue("churn")) == [pid(2), pid(1), pid(6)]
    assert ids(store.review_queue("churn", limit=1)) == [pid(2)]

    store.add_feedback(Feedback(pid(2), label=1, source="human-review"))
    store.add_feedback(Feedback(pid(6), label=0, kind="suggestion"))
    assert ids(store.review_queue("churn")) == [pid(1)]
    with pytest.raises(InvalidInput, match="limit"):
        store.review_queue(limit=0)


def stats(time_ms: int, **changes) -> ServiceStats:
    base = ServiceStats(
        model="churn",
        instance="host-a:4242",
        time=time_ms,
        interval_s=10.0,
        requests=120,
        rows=480,
        errors={"422": 3, "503": 1},
        latency_ms={"p50": 1.5, "p95": 4.0, "p99": 9.25},
        cpu_percent=37.5,
        rss_bytes=512 * 2**20,
        dropped_events=0,
        quality={"rejected_rows": 2, "unseen": {"city": 3}, "missing": {}, "out_of_range": {}},
    )
    return dataclasses.replace(base, **changes)


def test_service_stats_round_trip_and_order(store):
    later = stats(3_000, instance="host-b:7", dropped_events=4)
    earliest = stats(1_000, requests=np.int64(5), cpu_percent=np.float64(12.0))
    middle = stats(2_000)
    for snapshot in (later, earliest, middle, stats(2_500, model="fraud")):
        store.log_service_stats(snapshot)

    listed = store.list_service_stats("churn")
    assert listed == [dataclasses.replace(earliest, requests=5, cpu_percent=12.0), middle, later]
    assert type(listed[0].requests) is int
    assert store.list_service_stats("churn", since=2_000, until=3_000) == [middle]
    assert [s.model for s in store.list_service_stats("fraud")] == ["fraud"]
    with pytest.raises(InvalidInput, match="requests"):
        store.log_service_stats(stats(4_000, requests="many"))


def test_ten_thousand_events_in_one_batch(store):
    rng = np.random.default_rng(0)
    batch = [
        PredictionEvent(
            prediction_id=uuid.uuid4().hex,
            model="churn",
            version=1,
            time=1_000_000 + i,
            inputs={"age": np.int64(rng.integers(18, 90)), "income": rng.normal(), "city": "x"},
            outputs={"prediction": int(i % 2), "probabilities": {"0": 0.4, "1": 0.6}},
            confidence=0.6,
            status="ok",
            latency_ms=1.25,
        )
        for i in range(10_000)
    ]
    assert store.log_predictions(batch) == 10_000
    assert store.log_predictions(batch[:5_000]) == 0
    listed = store.list_predictions("churn")
    assert len(listed) == 10_000
    assert listed[-1].prediction_id == batch[-1].prediction_id


def test_store_at_0004_with_data_upgrades_to_head(store_url):
    engine = create_engine(store_url)
    migrate.upgrade(engine, target="0004")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO experiments (name, created_time) VALUES ('old', 1)"))
        conn.execute(
            sa.text(
                "INSERT INTO schedules (name, cron, target, params, catch_up, created_time, "
                "next_run_time, running) VALUES ('nightly', '0 3 * * *', 'p.py:train', '{}', "
                ":false, 1, 2, :false)"
            ),
            {"false": False},
        )
        assert "predictions" not in sa.inspect(conn).get_table_names()
    engine.dispose()

    upgraded = open_store(store_url)  # opening an older store upgrades it
    with upgraded.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
    assert upgraded.get_experiment("old").name == "old"
    assert upgraded.get_schedule("nightly").cron == "0 3 * * *"
    assert upgraded.log_predictions([event(1)]) == 1
    assert upgraded.add_feedback(Feedback(pid(1), label=1)).feedback_id is not None
    upgraded.close()
