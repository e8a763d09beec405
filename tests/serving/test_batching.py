"""The micro-batcher: merging, each answer to its own caller, no needless wait, load shedding."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loopml.serving.app import create_app
from loopml.serving.batcher import BatchLimits, MicroBatcher, Overloaded
from loopml.serving.options import ServeOptions


def _echo_batches(batches: list[list[int]], delay: float = 0.0):
    def process(jobs):
        batches.append([job.n for job in jobs])
        if delay:
            time.sleep(delay)
        return [[value * 10 for value in job.rows] for job in jobs]

    return process


def test_concurrent_jobs_merge_and_each_gets_its_own_rows_back():
    batches: list[list[int]] = []

    async def main():
        batcher = MicroBatcher(
            _echo_batches(batches, delay=0.01), BatchLimits(max_batch_rows=16, max_wait_ms=20)
        )
        sizes = [1 + (i % 4) for i in range(60)]
        starts = np.cumsum([0, *sizes[:-1]])
        jobs = [list(range(s, s + n)) for s, n in zip(starts, sizes, strict=True)]
        results = await asyncio.gather(*(batcher.submit(rows) for rows in jobs))
        await batcher.close()
        return jobs, results

    jobs, results = asyncio.run(main())
    for rows, result in zip(jobs, results, strict=True):
        assert result == [v * 10 for v in rows]
    assert all(sum(batch) <= 16 for batch in batches)
    assert max(len(batch) for batch in batches) > 1  # requests were merged
    assert sum(sum(b) for b in batches) == sum(len(rows) for rows in jobs)


def test_a_lone_request_does_not_wait_for_the_window():
    async def main():
        batcher = MicroBatcher(_echo_batches([]), BatchLimits(max_batch_rows=64, max_wait_ms=500))
        started = time.perf_counter()
        await batcher.submit([1])
        first = time.perf_counter() - started
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await batcher.submit([2])
        second = time.perf_counter() - started
        await batcher.close()
        return first, second

    first, second = asyncio.run(main())
    assert first < 0.25 and second < 0.25  # far below the 500 ms window


def test_a_job_larger_than_the_batch_runs_alone():
    batches: list[list[int]] = []

    async def main():
        batcher = MicroBatcher(_echo_batches(batches), BatchLimits(max_batch_rows=4))
        result = await batcher.submit(list(range(10)))
        await batcher.close()
        return result

    assert asyncio.run(main()) == [v * 10 for v in range(10)]
    assert batches == [[10]]


def test_a_failing_batch_fails_its_jobs_only_and_the_batcher_goes_on():
    calls = {"n": 0}

    def process(jobs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model exploded")
        return [list(job.rows) for job in jobs]

    async def main():
        batcher = MicroBatcher(process, BatchLimits(max_batch_rows=8))
        with pytest.raises(RuntimeError, match="exploded"):
            await batcher.submit([1])
        result = await batcher.submit([2])
        await batcher.close()
        return result

    assert asyncio.run(main()) == [2]


def test_overload_sheds_with_retry_after_instead_of_queueing_without_bound():
    async def main():
        batcher = MicroBatcher(
            _echo_batches([], delay=0.1), BatchLimits(max_batch_rows=1, max_latency_ms=350)
        )
        await batcher.submit([0])  # learn how long a batch takes

        async def timed(i):
            started = time.perf_counter()
            try:
                await batcher.submit([i])
                return ("ok", time.perf_counter() - started)
            except Overloaded as exc:
                return ("shed", exc.retry_after)

        results = await asyncio.gather(*(timed(i) for i in range(30)))
        await batcher.close()
        return results

    results = asyncio.run(main())
    served = [t for kind, t in results if kind == "ok"]
    shed = [t for kind, t in results if kind == "shed"]
    assert shed and served
    assert all(retry >= 1 for retry in shed)
    assert max(served) < 0.35 + 0.25  # the bound plus at most one batch in flight


def test_batcher_checks_rows_not_requests_under_http_load(kit):
    model = kit.register_classifier()
    X, _ = kit.breast_cancer()
    options = ServeOptions(max_batch_rows=32, max_wait_ms=10)
    with kit.running(create_app("cancer@champion", options)) as url:

        def call(i: int):
            rows = X.iloc[[i, (i * 7) % len(X), (i * 13) % len(X)]]
            body = httpx.post(f"{url}/predict", json={"instances": rows.to_dict("records")},
                              timeout=30).json()
            return rows, body

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(call, range(200)))
        for rows, body in answers:
            assert body["predictions"] == model.predict(rows).tolist()
            np.testing.assert_allclose(body["probabilities"], model.predict_proba(rows))
        families = {
            f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
        }
    samples = {s.name: s.value for s in families["loopml_batch_requests"].samples
               if not s.labels}
    count, total = samples["loopml_batch_requests_count"], samples["loopml_batch_requests_sum"]
    assert total == 200
    assert count < 200  # some model calls served several requests
    rows = {s.name: s.value for s in families["loopml_batch_rows"].samples}
    assert rows["loopml_batch_rows_sum"] == 600
    buckets = {s.labels["le"]: s.value for s in families["loopml_batch_rows"].samples
               if s.name == "loopml_batch_rows_bucket"}
    assert buckets["32.0"] == count  # never more than max_batch_rows rows per call


def test_http_overload_is_503_with_retry_after(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    options = ServeOptions(max_batch_rows=1, max_wait_ms=0, max_latency_ms=200)
    app = create_app("cancer@champion", options)
    served = app.state.service.champion
    real = served.loaded.model

    class Slow:  # slowness a real model cannot produce on demand
        classes_ = real.classes_

        def predict_proba(self, frame):
            time.sleep(0.08)
            return real.predict_proba(frame)

        def predict(self, frame):
            return real.predict(frame)

    served.loaded.model = Slow()
    body = {"instances": X.head(1).to_dict("records")}
    with kit.running(app) as url:
        httpx.post(f"{url}/predict", json=body, timeout=30)
        with ThreadPoolExecutor(24) as pool:
            responses = list(pool.map(
                lambda _: httpx.post(f"{url}/predict", json=body, timeout=30), range(24)
            ))
        codes = [r.status_code for r in responses]
        assert 200 in codes and 503 in codes
        shed = next(r for r in responses if r.status_code == 503)
        assert int(shed.headers["retry-after"]) >= 1
        assert "try again later" in shed.json()["error"]
        metrics = httpx.get(f"{url}/metrics").text
        assert "loopml_shed_requests_total" in metrics
        assert httpx.post(f"{url}/predict", json=body, timeout=30).status_code == 200
