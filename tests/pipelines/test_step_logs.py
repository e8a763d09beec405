"""What a step prints is kept with its run, on every runner, and still shown live."""

from __future__ import annotations

import pytest

import loopml as ml
from loopml.tracking import state


@ml.step
def chatty(n: int) -> int:
    print(f"processing {n} rows")
    return n * 2


@ml.step(retries=0)
def broken(n: int) -> int:
    print("about to fail")
    raise ValueError("bad rows")


@ml.pipeline
def talk(n: int = 3):
    return chatty(n)


@ml.pipeline
def crash(n: int = 3):
    return broken(n)


def step_log(run_id: str) -> str:
    [child] = [
        r
        for r in ml.search_runs(
            "talk", filter=f"attributes.parent_run_id = '{run_id}'"
        ).itertuples()
    ]
    return ml.get_artifact(child.run_id, "logs/output.txt").decode()


@pytest.mark.parametrize("runner", [None, "processes://2"])
def test_prints_are_kept_with_the_step_run(runner, capsys):
    result = talk.run(n=5, runner=runner, cache=False)
    assert step_log(result.run_id) == "processing 5 rows\n"
    if runner is None:
        assert "processing 5 rows" in capsys.readouterr().out  # still shown live


def test_a_failing_step_keeps_what_it_printed():
    with pytest.raises(ml.PipelineFailed):
        crash.run(n=1)
    failed = ml.search_runs(
        "crash", filter="attributes.status = 'FAILED' and attributes.name = 'broken'"
    )
    run_id = failed["run_id"].iloc[0]
    assert ml.get_artifact(run_id, "logs/output.txt").decode() == "about to fail\n"
    assert "ValueError: bad rows" in state.get_store().get_run(run_id).info.error


def test_a_silent_step_stores_no_log():
    @ml.step
    def quiet(n: int) -> int:
        return n

    @ml.pipeline
    def hush(n: int = 1):
        return quiet(n)

    result = hush.run(cache=False)
    child = result.steps[0].run_id
    assert [a.path for a in ml.get_run(child).artifacts if a.path.startswith("logs/")] == []
