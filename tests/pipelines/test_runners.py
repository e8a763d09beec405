"""Runners: independent branches run in parallel on a local process pool and on a real Dask
cluster (LocalCluster, process workers), with the same outputs, digests, child runs, cache and
failure semantics as in-process."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInput, LoopmlError
from loopml.pipelines import PipelineFailed, StepTimeout, pipeline, step
from loopml.pipelines.executor import InProcessRunner
from loopml.pipelines.runners import ProcessPoolRunner, resolve_runner
from loopml.pipelines.runners import process_pool as process_pool_module
from loopml.pipelines.targets import load_target
from loopml.tracking import state

SLEEP = 0.5
BRANCHES = 4
SERIAL = BRANCHES * SLEEP


# Module-level steps: a Dask worker cannot import this test module, so they travel by value.
@step
def branch(i: int) -> pd.DataFrame:
    time.sleep(SLEEP)
    values = np.random.rand(3)  # the global generator, seeded per step by the run
    return pd.DataFrame({"branch": [i] * 3, "value": values})


@step
def join(a: pd.DataFrame, b: pd.DataFrame, c: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([a, b, c, d], ignore_index=True)


@step
def total(frame: pd.DataFrame) -> float:
    return float(frame["value"].sum())


@pipeline
def fan_out():
    joined = join(*(branch(i) for i in range(BRANCHES)))
    return {"frame": joined, "total": total(joined)}


def _statuses(result) -> dict[str, str]:
    return {s.node_id: s.status for s in result.steps}


def _timed_run(runner, **kwargs):
    started = time.perf_counter()
    result = fan_out.run(seed=11, runner=runner, **kwargs)
    return result, time.perf_counter() - started


def check_same_as_in_process(runner, child_runs, reference) -> float:
    """Run the fan-out on ``runner`` uncached; compare with the in-process ``reference`` run
    (outputs, digests, child runs and their tags). Returns the elapsed time."""
    result, elapsed = _timed_run(runner, cache=False)
    assert result.status == "FINISHED"
    pd.testing.assert_frame_equal(result.output["frame"], reference.output["frame"])
    assert result.output["total"] == reference.output["total"]
    assert set(_statuses(result).values()) == {"executed"}
    assert [s.output_digests for s in result.steps] == [s.output_digests for s in reference.steps]
    assert [s.cache_key for s in result.steps] == [s.cache_key for s in reference.steps]
    ours, theirs = child_runs(result.run_id), child_runs(reference.run_id)
    assert sorted(ours) == sorted(theirs) == sorted(_statuses(result))
    for node_id, run in ours.items():
        assert run.info.status.value == "FINISHED"
        assert run.info.parent_run_id == result.run_id
        assert run.tags == theirs[node_id].tags
        assert run.params == theirs[node_id].params
        assert run.info.seed == theirs[node_id].info.seed
        assert [a.sha256 for a in run.artifacts] == [a.sha256 for a in theirs[node_id].artifacts]
        assert set(run.metrics) == {"duration_s", "attempts"}
    assert state.active_runs == []
    return elapsed


def check_failing_branch(runner, child_runs) -> None:
    """One branch fails at once, the other sleeps then finishes: the pipeline fails, the
    failed branch's downstream is skipped, the other branch's step ran to the end; once
    fixed, a re-run resumes from the cache."""
    broken = {"yes": True}

    @step
    def bad(x: int) -> int:
        if broken["yes"]:
            raise ValueError("bad hyperparameter")
        return x

    @step
    def after_bad(x: int) -> int:
        return x + 1

    @step
    def slow(x: int) -> int:
        time.sleep(SLEEP)
        return x * 10

    @pipeline
    def two_branches():
        return {"a": after_bad(bad(1)), "b": slow(2)}

    with pytest.raises(PipelineFailed, match="bad hyperparameter") as info:
        two_branches.run(runner=runner)
    error = info.value
    assert error.step == "bad" and isinstance(error.__cause__, ValueError)
    assert error.run.status == "FAILED" and error.run.output is None
    assert _statuses(error.run) == {"bad": "failed", "after_bad": "skipped", "slow": "executed"}
    assert error.run.step("after_bad").error == "bad failed"
    store = state.get_store()
    assert store.get_run(error.run.run_id).info.status.value == "FAILED"
    runs = child_runs(error.run.run_id)
    assert "after_bad" not in runs
    assert runs["slow"].info.status.value == "FINISHED"
    assert runs["bad"].info.status.value == "FAILED"
    assert "Traceback" in runs["bad"].info.error
    assert "ValueError: bad hyperparameter" in runs["bad"].info.error
    assert state.active_runs == []

    broken["yes"] = False  # a forked worker of the next run sees this; Dask gets it by value
    resumed = two_branches.run(runner=runner)
    assert resumed.output == {"a": 2, "b": 20}
    assert _statuses(resumed) == {"bad": "executed", "after_bad": "executed", "slow": "cached"}


def unstorable_message(runner) -> str:
    @step
    def opaque() -> set[int]:
        return {1, 2}

    @pipeline
    def p():
        return opaque()

    with pytest.raises(PipelineFailed) as info:
        p.run(runner=runner)
    assert isinstance(info.value.__cause__, InvalidInput)
    return str(info.value.run.step("opaque").error)


@pytest.fixture
def in_process_reference(child_runs):
    result, elapsed = _timed_run(None, cache=False)
    assert elapsed >= SERIAL  # the branches really do take SLEEP each in-process
    return result


# -- runner specs --------------------------------------------------------------------------
def test_runner_specs_resolve() -> None:
    assert isinstance(resolve_runner(None), InProcessRunner)
    assert isinstance(resolve_runner("local"), InProcessRunner)
    assert isinstance(resolve_runner("inprocess"), InProcessRunner)
    pool = resolve_runner("processes")
    assert isinstance(pool, ProcessPoolRunner) and pool.workers == (os.cpu_count() or 1)
    assert resolve_runner("processes://3").workers == 3  # type: ignore[attr-defined]
    custom = InProcessRunner()
    assert resolve_runner(custom) is custom


@pytest.mark.parametrize(
    "spec",
    [
        "dask://",
        "dask://host",
        "dask://host:0",
        "dask://host:99999",
        "processes://0",
        "processes://two",
        "processes:4",
        "gpu://x",
        "",
        4,
        True,
        2.5,
        InProcessRunner,
    ],
)
def test_bad_runner_specs_name_the_accepted_forms(spec) -> None:
    with pytest.raises(InvalidInput, match="processes://N") as info:
        resolve_runner(spec)
    assert "dask://host:port" in str(info.value) and "distributed.Client" in str(info.value)


def test_bad_runner_is_refused_before_anything_runs(child_runs) -> None:
    with pytest.raises(InvalidInput, match="unknown runner 'gpu://x'"):
        fan_out.run(runner="gpu://x")
    assert state.get_store().search_runs(None, "", limit=10) == []


# -- local process pool ----------------------------------------------------------------------
def test_process_pool_runs_branches_in_parallel_like_in_process(
    in_process_reference, child_runs
) -> None:
    elapsed = check_same_as_in_process("processes://2", child_runs, in_process_reference)
    assert elapsed < 0.8 * SERIAL, f"{elapsed:.2f} s: the branches did not run in parallel"

    cached, cached_elapsed = _timed_run("processes://2")
    assert set(_statuses(cached).values()) == {"cached"}
    pd.testing.assert_frame_equal(cached.output["frame"], in_process_reference.output["frame"])
    assert cached_elapsed < SLEEP


def test_process_pool_failing_branch(child_runs) -> None:
    check_failing_branch("processes://2", child_runs)


def test_process_pool_unstorable_output_fails_like_in_process() -> None:
    here = unstorable_message(None)
    assert "step 'opaque' returned a set: loopml cannot store it safely" in here
    assert unstorable_message("processes://2") == here


def test_process_pool_retries_in_the_driver(tmp_path: Path) -> None:
    attempts_file = tmp_path / "attempts"

    @step(retries=2, backoff=0.05)
    def flaky() -> int:
        with attempts_file.open("a") as handle:  # workers are other processes: count on disk
            handle.write("x")
        if len(attempts_file.read_text()) < 3:
            raise ConnectionError("network blip")
        return 42

    @pipeline
    def p():
        return flaky()

    result = p.run(runner="processes://2")
    assert result.output == 42 and result.steps[0].attempts == 3
    assert attempts_file.read_text() == "xxx"


def test_process_pool_timeout_fails_the_step_and_lets_the_other_branch_finish(child_runs) -> None:
    @step(timeout=0.3)
    def stuck() -> int:
        time.sleep(30)
        return 1

    @step
    def fine() -> int:
        time.sleep(0.2)
        return 2

    @pipeline
    def p():
        return [stuck(), fine()]

    started = time.perf_counter()
    with pytest.raises(PipelineFailed, match="did not finish within 0.3 s") as info:
        p.run(runner="processes://2")
    assert time.perf_counter() - started < 3.0  # the stuck worker was terminated, not awaited
    assert isinstance(info.value.__cause__, StepTimeout)
    assert isinstance(info.value.__cause__, TimeoutError)
    assert _statuses(info.value.run) == {"stuck": "failed", "fine": "executed"}
    assert child_runs(info.value.run.run_id)["stuck"].info.status.value == "FAILED"


def test_a_worker_that_dies_fails_its_step_and_the_pool_is_replaced() -> None:
    @step
    def crash() -> int:
        os._exit(3)  # a segfault or the OOM killer, as the pool sees it

    @step
    def fine() -> int:
        return 2

    @pipeline
    def p():
        return [crash(), fine()]

    with pytest.raises(PipelineFailed, match="could not run step 'crash'") as info:
        p.run(runner="processes://1")  # one worker: crash runs alone, then fine
    assert _statuses(info.value.run) == {"crash": "failed", "fine": "executed"}
    assert "BrokenProcessPool" in str(info.value.run.step("crash").error)


def test_spawned_workers_load_a_pipeline_file_by_path(tmp_path: Path, monkeypatch) -> None:
    """Without fork (macOS, Windows) and without cloudpickle, workers load the step's file."""
    source = tmp_path / "flow.py"
    source.write_text(
        "from loopml.pipelines import pipeline, step\n\n"
        "@step\n"
        "def double(x: int) -> int:\n"
        "    return 2 * x\n\n"
        "@pipeline\n"
        "def flow(x: int = 4):\n"
        "    return double(x)\n"
    )
    flow = load_target(f"{source}:flow")
    monkeypatch.setattr(process_pool_module, "_has_cloudpickle", lambda: False)
    result = flow.run(runner=ProcessPoolRunner(1, start_method="spawn"))
    assert result.output == 8


# -- Dask: a real LocalCluster with process workers -------------------------------------------
def _distributed():
    """Dask tests fail in CI when Dask is missing; elsewhere they are skipped."""
    if os.environ.get("CI") == "true":
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the machine
            pytest.fail(f"CI=true but dask[distributed] is not importable ({exc}): install it")
        return distributed
    return pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[object]:
    distributed = _distributed()
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    try:
        yield cluster
    finally:
        cluster.close()


def _warm_up() -> None:
    """What a long-lived worker has imported already: the timings measure scheduling, not a
    fresh process importing pandas and pyarrow."""
    import pyarrow.parquet  # noqa: F401

    import loopml.pipelines.runners.tasks  # noqa: F401
    import loopml.pipelines.serializers  # noqa: F401


@pytest.fixture(scope="module")
def dask_client(dask_cluster) -> Iterator[object]:
    distributed = _distributed()
    client = distributed.Client(dask_cluster, set_as_default=False)
    client.run(_warm_up)
    try:
        yield client
    finally:
        client.close()


def _dask_url(cluster) -> str:
    return "dask://" + cluster.scheduler_address.removeprefix("tcp://")


def test_a_client_resolves_to_the_dask_runner(dask_client) -> None:
    from loopml.pipelines.runners.dask import DaskRunner

    runner = resolve_runner(dask_client)
    assert isinstance(runner, DaskRunner) and runner.client is dask_client


def test_dask_runs_branches_in_parallel_like_in_process(
    dask_cluster, dask_client, in_process_reference, child_runs
) -> None:
    for runner in (dask_client, _dask_url(dask_cluster)):
        elapsed = check_same_as_in_process(runner, child_runs, in_process_reference)
        assert elapsed < 0.8 * SERIAL, f"{runner}: {elapsed:.2f} s, not parallel"

    cached, cached_elapsed = _timed_run(_dask_url(dask_cluster))
    assert set(_statuses(cached).values()) == {"cached"}
    pd.testing.assert_frame_equal(cached.output["frame"], in_process_reference.output["frame"])
    assert cached_elapsed < SLEEP


def test_dask_failing_branch(dask_client, child_runs) -> None:
    check_failing_branch(dask_client, child_runs)


def test_dask_unstorable_output_fails_like_in_process(dask_client) -> None:
    assert unstorable_message(dask_client) == unstorable_message(None)


def test_dask_timeout_fails_the_step(dask_client) -> None:
    @step(timeout=0.3)
    def stuck() -> int:
        time.sleep(1.0)  # keeps one worker busy a little after the run: last Dask test
        return 1

    @pipeline
    def p():
        return stuck()

    started = time.perf_counter()
    with pytest.raises(PipelineFailed, match="did not finish within 0.3 s") as info:
        p.run(runner=dask_client)
    assert time.perf_counter() - started < 1.0
    assert isinstance(info.value.__cause__, StepTimeout)


def test_unreachable_dask_scheduler_is_a_clear_error(dask_cluster, monkeypatch) -> None:
    from loopml.pipelines.runners import dask as dask_runner

    monkeypatch.setattr(dask_runner, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LoopmlError, match="cannot reach the Dask scheduler"):
        fan_out.run(runner=f"dask://127.0.0.1:{port}")
