"""The Store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from loopml.errors import Conflict, InvalidInput, NotFound, StoreError
from loopml.store.base import open_store
from loopml.store.entities import (
    ArtifactRecord,
    DatasetRecord,
    MetricSeries,
    RunStatus,
)


def series(run_id: str, key: str, steps, values, timestamps=None) -> MetricSeries:
    steps = np.asarray(steps, dtype=np.int64)
    stamps = np.asarray(timestamps if timestamps is not None else steps * 10, dtype=np.int64)
    return MetricSeries(run_id, key, steps, stamps, np.asarray(values, dtype=np.float64))


@pytest.fixture
def run_id(store) -> str:
    experiment = store.get_or_create_experiment("exp")
    return store.create_run(experiment.experiment_id, name="r").run_id


def test_experiment_get_or_create_is_idempotent(store):
    first = store.get_or_create_experiment("churn")
    again = store.get_or_create_experiment("churn")
    assert first == again
    assert [e.name for e in store.list_experiments()] == ["churn"]
    assert store.get_experiment("churn") == first
    assert store.get_experiment(first.experiment_id) == first


def test_unknown_experiment_names_it_and_lists_known(store):
    store.get_or_create_experiment("churn")
    with pytest.raises(NotFound, match="'fraud'.*churn"):
        store.get_experiment("fraud")
    with pytest.raises(NotFound, match="experiment id 999"):
        store.create_run(999)


def test_run_lifecycle_and_attributes(store):
    experiment = store.get_or_create_experiment("exp")
    parent = store.create_run(
        experiment.experiment_id,
        name="parent",
        seed=7,
        git_commit="abc",
        git_dirty=True,
        entry_point="train.py",
        tags={"team": "fraud"},
    )
    child = store.create_run(experiment.experiment_id, name="child", parent_run_id=parent.run_id)
    assert parent.status is RunStatus.RUNNING
    ended = store.end_run(parent.run_id, RunStatus.FAILED, error="Traceback: boom")
    assert ended.status is RunStatus.FAILED and ended.end_time >= ended.start_time
    run = store.get_run(parent.run_id)
    assert run.info.seed == 7 and run.info.git_commit == "abc" and run.info.git_dirty is True
    assert run.info.error == "Traceback: boom" and run.info.entry_point == "train.py"
    assert run.tags == {"team": "fraud"}
    assert store.get_run(child.run_id).info.parent_run_id == parent.run_id


def test_unknown_run_and_parent_are_clear_errors(store, run_id):
    experiment = store.get_or_create_experiment("exp")
    for call in (
        lambda: store.get_run("nope"),
        lambda: store.log_params("nope", {"a": "1"}),
        lambda: store.set_tags("nope", {"a": "1"}),
        lambda: store.end_run("nope", RunStatus.FINISHED),
        lambda: store.get_metric_history("nope", "loss"),
        lambda: store.log_metric_batches([series("nope", "loss", [0], [1.0])]),
    ):
        with pytest.raises(NotFound, match="'nope'"):
            call()
    with pytest.raises(NotFound, match="parent run 'ghost'"):
        store.create_run(experiment.experiment_id, parent_run_id="ghost")


def test_param_conflict_names_both_values_and_writes_nothing(store, run_id):
    store.log_params(run_id, {"C": "0.5"})
    store.log_params(run_id, {"C": "0.5"})  # same value again: fine
    with pytest.raises(Conflict) as caught:
        store.log_params(run_id, {"new": "1", "C": "0.7"})
    assert "'C'" in str(caught.value) and "'0.5'" in str(caught.value)
    assert "'0.7'" in str(caught.value)
    assert store.get_run(run_id).params == {"C": "0.5"}  # 'new' was not half-written


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("a*b", "illegal character '\\*'"),
        ("x" * 251, "251 characters"),
        ("", "empty"),
        ("a\nb", "illegal character"),
    ],
)
def test_bad_keys_are_refused(store, run_id, key, problem):
    with pytest.raises(InvalidInput, match=problem):
        store.log_params(run_id, {key: "1"})
    with pytest.raises(InvalidInput, match=problem):
        store.log_metric_batches([series(run_id, key, [0], [1.0])])
    assert store.get_run(run_id).params == {}


def test_long_param_value_is_refused(store, run_id):
    store.log_params(run_id, {"ok": "v" * 6000})
    with pytest.raises(InvalidInput, match="6001 characters.*6000"):
        store.log_params(run_id, {"long": "v" * 6001})


def test_tags_are_mutable(store, run_id):
    store.set_tags(run_id, {"stage": "dev"})
    store.set_tags(run_id, {"stage": "prod", "owner": "ana"})
    assert store.get_run(run_id).tags == {"stage": "prod", "owner": "ana"}


def test_metric_history_in_step_order_across_batches(store, run_id):
    store.log_metric_batches([series(run_id, "loss", [2, 3], [0.2, 0.3])])
    store.log_metric_batches([series(run_id, "loss", [0, 1], [0.0, 0.1])])
    history = store.get_metric_history(run_id, "loss")
    assert history.steps.tolist() == [0, 1, 2, 3]
    assert history.values.tolist() == [0.0, 0.1, 0.2, 0.3]
    # the latest value is the one at the highest step, whatever the logging order
    assert store.get_run(run_id).metrics["loss"].value == 0.3


def test_nan_and_infinities_round_trip(store, run_id):
    store.log_metric_batches(
        [
            series(run_id, "odd", [0, 1, 2], [math.inf, -math.inf, math.nan]),
            series(run_id, "inf", [0], [math.inf]),
        ]
    )
    values = store.get_metric_history(run_id, "odd").values
    assert values[0] == math.inf and values[1] == -math.inf and math.isnan(values[2])
    metrics = store.get_run(run_id).metrics
    assert math.isnan(metrics["odd"].value)
    assert metrics["inf"].value == math.inf


def test_unknown_metric_lists_logged_ones(store, run_id):
    store.log_metric_batches([series(run_id, "loss", [0], [1.0])])
    with pytest.raises(NotFound, match="'acc'.*loss"):
        store.get_metric_history(run_id, "acc")


def test_end_run_compacts_chunks_without_losing_points(store, run_id):
    import sqlalchemy as sa

    from loopml.store.tables import metric_chunks

    for start in range(0, 1000, 100):
        steps = np.arange(start, start + 100)
        store.log_metric_batches([series(run_id, "loss", steps, steps * 0.5)])
    store.end_run(run_id, RunStatus.FINISHED)
    with store.engine.connect() as conn:
        chunks = conn.execute(sa.select(sa.func.count()).select_from(metric_chunks)).scalar()
    assert chunks == 1
    history = store.get_metric_history(run_id, "loss")
    assert history.steps.tolist() == list(range(1000))
    assert history.values.tolist() == [s * 0.5 for s in range(1000)]


def test_hundred_thousand_step_history_reads_fast(store, run_id):
    steps = np.arange(100_000)
    for part in np.array_split(steps, 50):  # 50 flushes, as a long training would produce
        store.log_metric_batches([series(run_id, "loss", part, np.sqrt(part))])
    started = time.perf_counter()
    history = store.get_metric_history(run_id, "loss")
    elapsed = time.perf_counter() - started
    print(f"100,000-step history read in {elapsed * 1000:.1f} ms ({store})")
    assert len(history) == 100_000 and history.values[-1] == np.sqrt(99_999)


def test_artifact_records_upsert_by_path(store, run_id):
    store.log_artifacts(run_id, [ArtifactRecord("model/a.bin", "a" * 64, 10)])
    store.log_artifacts(
        run_id,
        [ArtifactRecord("model/a.bin", "b" * 64, 12), ArtifactRecord("plots/roc.png", "c" * 64, 5)],
    )
    artifacts = store.get_run(run_id).artifacts
    assert [(a.path, a.sha256[0], a.size) for a in artifacts] == [
        ("model/a.bin", "b", 12),
        ("plots/roc.png", "c", 5),
    ]


def test_datasets_are_stored_once_and_linked_with_roles(store, run_id):
    record = DatasetRecord("f" * 64, 3, 2, {"columns": []}, {"n_rows": 3})
    store.log_dataset(run_id, record, name="iris", role="train")
    store.log_dataset(run_id, record, name="iris", role="test")
    assert store.get_dataset("f" * 64) == record
    links = sorted((d.name, d.role) for d in store.get_run(run_id).datasets)
    assert links == [("iris", "test"), ("iris", "train")]
    with pytest.raises(NotFound):
        store.get_dataset("0" * 64)


def test_search_scopes_filters_orders_and_pages(store):
    a = store.get_or_create_experiment("a").experiment_id
    b = store.get_or_create_experiment("b").experiment_id
    ids = {}
    for i in range(6):
        run = store.create_run(a if i < 4 else b, name=f"r{i}", start_time=1000 + i)
        store.log_params(run.run_id, {"model": "rf" if i % 2 else "lr"})
        store.log_metric_batches([series(run.run_id, "auc", [0], [i / 10])])
        ids[run.run_id] = f"r{i}"
    names = [ids[r.run_id] for r in store.search_runs([a], order_by="metrics.auc desc")]
    assert names == ["r3", "r2", "r1", "r0"]
    found = store.search_runs(
        None,
        "metrics.auc >= 0.2 and (params.model = 'rf' or attributes.name = 'r2')",
        "metrics.auc",
    )
    assert [ids[r.run_id] for r in found] == ["r2", "r3", "r5"]
    pages = [store.search_runs(None, None, "attributes.name", limit=4, offset=o) for o in (0, 4)]
    assert [ids[r.run_id] for page in pages for r in page] == [f"r{i}" for i in range(6)]
    with pytest.raises(InvalidInput, match="limit"):
        store.search_runs(None, limit=0)


def test_unsupported_store_url_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="not supported"):
        open_store("mysql://root@localhost/x")
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("::not a url::")
