"""Tracing builds the DAG without running anything; run() executes it as tracked runs."""

from __future__ import annotations

import pandas as pd
import pytest

from loopml.errors import InvalidInput
from loopml.pipelines import StepOutput, graph, pipeline, step
from loopml.tracking import state

calls: list[str] = []


@step
def load(n: int) -> pd.DataFrame:
    calls.append("load")
    return pd.DataFrame({"x": list(range(n))})


@step(outputs=2)
def split(df: pd.DataFrame):
    calls.append("split")
    half = len(df) // 2
    return df.iloc[:half], df.iloc[half:]


@step
def halves(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    half = len(df) // 2
    return df.iloc[:half], df.iloc[half:]


@step
def total(a: pd.DataFrame, b: pd.DataFrame, scale: float = 1.0) -> float:
    calls.append("total")
    return float(a["x"].sum() + b["x"].sum()) * scale


@pipeline
def training(n: int, scale: float = 1.0):
    a, b = split(load(n))
    return {"total": total(a, b, scale=scale), "parts": [a, b]}


def test_defining_and_tracing_runs_no_step() -> None:
    calls.clear()
    trace = training.trace(n=4)
    assert calls == []
    assert list(trace.nodes) == ["load", "split", "total"]
    assert trace.nodes["total"].upstream() == ["split"]
    assert graph.topological_order(trace.nodes) == ["load", "split", "total"]


def test_step_outside_a_pipeline_is_a_plain_function() -> None:
    frame = load(3)
    assert list(frame["x"]) == [0, 1, 2]
    assert total(frame, frame, scale=2.0) == 12.0


def test_run_returns_the_output_with_values(child_runs) -> None:
    result = training.run(n=6, scale=2.0)
    assert result.status == "FINISHED"
    assert result.output["total"] == 30.0
    first, second = result.output["parts"]
    assert list(first["x"]) == [0, 1, 2] and list(second["x"]) == [3, 4, 5]
    assert [s.status for s in result.steps] == ["executed"] * 3
    assert all(len(d) == 64 for s in result.steps for d in s.output_digests)


def test_pipeline_and_steps_are_tracked_runs(child_runs) -> None:
    result = training.run(n=6, scale=2.0)
    store = state.get_store()
    parent = store.get_run(result.run_id)
    assert parent.tags["loopml.pipeline"] == "training"
    assert parent.params == {"n": "6", "scale": "2.0"}
    assert store.get_experiment(parent.info.experiment_id).name == "training"
    steps = child_runs(result.run_id)
    assert set(steps) == {"load", "split", "total"}
    run = steps["total"]
    assert run.info.name == "total" and run.info.status.value == "FINISHED"
    assert run.params == {"scale": "2.0"}  # handles are inputs, not params
    assert run.tags["loopml.step"] == "total"
    assert run.tags["loopml.cached"] == "false"
    assert run.tags["loopml.cache_key"] == result.step("total").cache_key
    assert run.metrics["duration_s"].value >= 0
    assert [a.path for a in run.artifacts if a.path.startswith("outputs/")] == ["outputs/0.json"]
    split_paths = sorted(a.path for a in steps["split"].artifacts if a.path.startswith("outputs"))
    assert split_paths == ["outputs/0.frame.parquet", "outputs/1.frame.parquet"]


def test_tuple_annotation_gives_several_outputs() -> None:
    @pipeline
    def p(n: int):
        a, b = halves(load(n))
        return total(a, b)

    assert p.run(n=4).output == 6.0


def test_repeated_step_gets_numbered_nodes() -> None:
    @pipeline
    def p():
        return [load(2), load(3)]

    result = p.run()
    assert [s.node_id for s in result.steps] == ["load", "load#2"]
    assert [len(f) for f in result.output] == [2, 3]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": 3, "learning_rate": 0.1}, "no parameter 'learning_rate'"),
        ({}, "needs the parameter 'n'"),
        ({"n": "3"}, "parameter 'n' must be int"),
        ({"n": True}, "parameter 'n' must be int"),
        ({"n": 3, "scale": "big"}, "parameter 'scale' must be float"),
    ],
)
def test_bad_params_are_refused_before_anything_runs(params, message) -> None:
    calls.clear()
    with pytest.raises(InvalidInput, match=message):
        training.run(**params)
    assert calls == []
    assert state.active_runs == []


def test_int_is_accepted_for_a_float_param() -> None:
    assert training.run(n=2, scale=1).output["total"] == 1.0


def test_missing_step_argument_names_step_and_argument() -> None:
    @pipeline
    def p():
        return total(load(2))

    with pytest.raises(InvalidInput, match=r"step 'total' is missing argument 'b'"):
        p.run()


def test_handle_from_another_trace_is_refused() -> None:
    kept: list[StepOutput] = []

    @pipeline
    def first():
        kept.append(load(2))
        return kept[0]

    @pipeline
    def second():
        return total(kept[0], kept[0])

    first.trace()
    with pytest.raises(InvalidInput, match="another pipeline trace"):
        second.run()


def test_using_a_handle_as_a_value_explains_itself() -> None:
    @pipeline
    def p():
        frame = load(2)
        if frame:  # a mistake: the value does not exist yet
            return frame
        return None

    with pytest.raises(InvalidInput, match="has no value yet"):
        p.run()


def test_a_cycle_is_refused() -> None:
    @pipeline
    def p():
        return load(2)

    trace = p.trace()
    node = trace.nodes["load"]
    node.arguments["n"] = StepOutput(trace.trace_id, "load", "load", 0)
    with pytest.raises(InvalidInput, match="cycle"):
        graph.topological_order(trace.nodes)


def test_step_settings_are_checked() -> None:
    with pytest.raises(InvalidInput, match="retries"):
        step(retries=-1)(lambda: 1)
    with pytest.raises(InvalidInput, match="timeout"):
        step(timeout=0)(lambda: 1)
