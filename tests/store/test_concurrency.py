"""Many processes writing one store at once: nothing lost, no "database is locked"."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np

from loopml.store.base import open_store
from loopml.store.entities import MetricSeries, RunStatus

PROCESSES = 8
BATCHES = 25
POINTS = 200


def _log_metrics(url: str, worker: int, queue) -> None:
    try:
        store = open_store(url)
        experiment = store.get_or_create_experiment("shared")
        run = store.create_run(experiment.experiment_id, name=f"w{worker}")
        store.log_params(run.run_id, {"worker": str(worker)})
        for batch in range(BATCHES):
            steps = np.arange(batch * POINTS, (batch + 1) * POINTS, dtype=np.int64)
            store.log_metric_batches(
                [
                    MetricSeries(run.run_id, "loss", steps, steps, steps * 1.0),
                    MetricSeries(run.run_id, "acc", steps, steps, steps * 0.5),
                ]
            )
            store.set_tags(run.run_id, {"batch": str(batch)})
        store.end_run(run.run_id, RunStatus.FINISHED)
        queue.put(("ok", run.run_id))
    except BaseException as exc:  # report every failure to the parent
        queue.put(("error", repr(exc)))


def _create_experiment(url: str, name: str, barrier, queue) -> None:
    try:
        store = open_store(url)
        barrier.wait()
        queue.put(("ok", store.get_or_create_experiment(name).experiment_id))
    except BaseException as exc:
        queue.put(("error", repr(exc)))


def _run_all(target, args_list) -> list:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, queue)) for args in args_list]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def test_eight_processes_logging_lose_nothing(store_url):
    open_store(store_url).close()  # created up front; the upgrade race is tested below
    results = _run_all(_log_metrics, [(store_url, w) for w in range(PROCESSES)])
    errors = [detail for status, detail in results if status == "error"]
    assert errors == []
    store = open_store(store_url)
    for _, run_id in results:
        run = store.get_run(run_id)
        assert run.info.status is RunStatus.FINISHED
        assert run.tags["batch"] == str(BATCHES - 1)
        for key in ("loss", "acc"):
            history = store.get_metric_history(run_id, key)
            assert history.steps.tolist() == list(range(BATCHES * POINTS))
    store.close()


def test_processes_creating_the_same_experiment_all_get_it(store_url):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = _run_all(_create_experiment, [(store_url, "race", barrier) for _ in range(PROCESSES)])
    assert [status for status, _ in results] == ["ok"] * PROCESSES, results
    assert len({experiment_id for _, experiment_id in results}) == 1
