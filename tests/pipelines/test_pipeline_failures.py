"""Failed steps: retries with backoff, timeouts, the traceback in the step's run, downstream
steps skipped, the run FAILED, and a re-run resuming from the cache."""

from __future__ import annotations

import time

import pytest

from loopml.errors import LoopmlError
from loopml.pipelines import PipelineFailed, StepTimeout, pipeline, step
from loopml.tracking import state


def test_retries_until_success() -> None:
    attempts: list[float] = []

    @step(retries=2, backoff=0.01)
    def flaky() -> int:
        attempts.append(time.perf_counter())
        if len(attempts) < 3:
            raise ConnectionError("network blip")
        return 42

    @pipeline
    def p():
        return flaky()

    result = p.run()
    assert result.output == 42 and len(attempts) == 3
    assert result.steps[0].attempts == 3
    assert attempts[2] - attempts[1] >= attempts[1] - attempts[0]  # backoff grows


def test_retries_exhausted_fail_the_pipeline() -> None:
    @step(retries=1, backoff=0)
    def broken() -> int:
        raise ConnectionError("still down")

    @pipeline
    def p():
        return broken()

    with pytest.raises(PipelineFailed) as info:
        p.run()
    assert info.value.run.steps[0].attempts == 2
    assert isinstance(info.value.__cause__, ConnectionError)


def test_timeout_fails_the_step() -> None:
    @step(timeout=0.2)
    def slow() -> int:
        time.sleep(1.5)
        return 1

    @pipeline
    def p():
        return slow()

    started = time.perf_counter()
    with pytest.raises(PipelineFailed, match="did not finish within 0.2 s") as info:
        p.run()
    assert time.perf_counter() - started < 1.2
    assert isinstance(info.value.__cause__, StepTimeout)
    assert isinstance(info.value.__cause__, TimeoutError)


def test_failure_skips_downstream_marks_failed_and_resumes_from_cache(child_runs) -> None:
    calls = {"load": 0, "train": 0, "evaluate": 0, "side": 0}
    broken = {"train": True}

    @step
    def load() -> list[int]:
        calls["load"] += 1
        return [1, 2, 3]

    @step
    def train(data: list[int]) -> int:
        calls["train"] += 1
        if broken["train"]:
            raise ValueError("bad hyperparameter")
        return sum(data)

    @step
    def evaluate(model: int) -> float:
        calls["evaluate"] += 1
        return model / 2

    @step
    def side(data: list[int]) -> int:
        calls["side"] += 1
        return len(data)

    @pipeline
    def p():
        data = load()
        return {"score": evaluate(train(data)), "n": side(data)}

    with pytest.raises(PipelineFailed) as info:
        p.run()
    error = info.value
    assert isinstance(error, LoopmlError)
    assert error.step == "train"
    assert "train" in str(error) and "bad hyperparameter" in str(error)
    failed = error.run
    assert failed.status == "FAILED" and failed.output is None
    assert {s.node_id: s.status for s in failed.steps} == {
        "load": "executed",
        "train": "failed",
        "evaluate": "skipped",
        "side": "executed",
    }
    assert calls["evaluate"] == 0
    store = state.get_store()
    assert store.get_run(failed.run_id).info.status.value == "FAILED"
    runs = child_runs(failed.run_id)
    assert "evaluate" not in runs
    assert runs["train"].info.status.value == "FAILED"
    assert "Traceback" in runs["train"].info.error
    assert "ValueError: bad hyperparameter" in runs["train"].info.error
    assert state.active_runs == []

    broken["train"] = False
    resumed = p.run()
    assert resumed.output == {"score": 3.0, "n": 3}
    assert {s.node_id: s.status for s in resumed.steps} == {
        "load": "cached",
        "train": "executed",
        "evaluate": "executed",
        "side": "cached",
    }
    assert calls == {"load": 1, "train": 2, "evaluate": 1, "side": 1}


def test_wrong_number_of_outputs_fails_the_step() -> None:
    @step(outputs=2)
    def pair() -> tuple[int, int]:
        return (1, 2, 3)  # type: ignore[return-value]

    @pipeline
    def p():
        a, b = pair()
        return a

    with pytest.raises(PipelineFailed, match="declares 2 outputs but returned 3 values"):
        p.run()
