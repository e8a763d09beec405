"""The cache: a step is skipped when code, params, inputs, seed and version are unchanged;
a change invalidates that step and what reads from it, nothing else."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

MODULE = """
import pandas as pd
from loopml.pipelines import pipeline, step

counts = {"load": 0, "clean": 0, "features": 0, "report": 0}


def helper(value):
    return value * HELPER_FACTOR


@step
def load(n: int) -> pd.DataFrame:
    counts["load"] += 1
    return pd.DataFrame({"x": list(range(n))})


@step
def clean(df: pd.DataFrame, drop_first: bool = False) -> pd.DataFrame:
    counts["clean"] += 1
    return df.iloc[1:] if drop_first else df


@step
def features(df: pd.DataFrame) -> pd.DataFrame:
    counts["features"] += 1
    return df.assign(y=helper(df["x"]) + FEATURE_OFFSET)


@step
def report(n: int, label: str) -> str:
    counts["report"] += 1
    return f"{label}:{n}"


@pipeline
def flow(n: int = 5, drop_first: bool = False, label: str = "r"):
    frame = features(clean(load(n), drop_first=drop_first))
    return {"frame": frame, "report": report(n, label)}
"""


def write_module(folder: Path, name: str, offset: str = "0", factor: str = "2"):
    source = MODULE.replace("FEATURE_OFFSET", offset).replace("HELPER_FACTOR", factor)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def flow_module(tmp_path: Path, monkeypatch, request):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # edits within a second re-import
    name = f"flowmod_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    yield lambda **kw: write_module(tmp_path, name, **kw)
    sys.modules.pop(name, None)


def statuses(result) -> dict[str, str]:
    return {s.node_id: s.status for s in result.steps}


def test_second_run_is_fully_cached(flow_module, child_runs) -> None:
    module = flow_module()
    first = module.flow.run()
    before = dict(module.counts)
    second = module.flow.run()
    assert module.counts == before
    assert set(statuses(second).values()) == {"cached"}
    pd.testing.assert_frame_equal(first.output["frame"], second.output["frame"])
    assert second.output["report"] == "r:5"
    assert [s.output_digests for s in first.steps] == [s.output_digests for s in second.steps]
    runs = child_runs(second.run_id)
    assert {r.tags["loopml.cached"] for r in runs.values()} == {"true"}
    assert runs["load"].tags["loopml.cached_from"] == first.step("load").run_id
    assert [a.sha256 for a in runs["load"].artifacts if a.path.startswith("outputs/")] == (
        first.step("load").output_digests
    )


def test_editing_a_step_invalidates_it_and_downstream_only(flow_module) -> None:
    module = flow_module()
    module.flow.run()
    edited = flow_module(offset="1")
    result = edited.flow.run()
    assert statuses(result) == {
        "load": "cached",
        "clean": "cached",
        "features": "executed",
        "report": "cached",
    }
    assert list(result.output["frame"]["y"]) == [1, 3, 5, 7, 9]


def test_editing_a_called_project_function_invalidates_the_caller(flow_module) -> None:
    flow_module().flow.run()
    result = flow_module(factor="3").flow.run()
    assert statuses(result)["features"] == "executed"
    assert statuses(result)["clean"] == "cached"
    assert list(result.output["frame"]["y"]) == [0, 3, 6, 9, 12]


def test_changing_a_param_invalidates_only_steps_that_use_it(flow_module) -> None:
    module = flow_module()
    module.flow.run()
    result = module.flow.run(drop_first=True)
    assert statuses(result) == {
        "load": "cached",
        "clean": "executed",
        "features": "executed",
        "report": "cached",
    }
    result = module.flow.run(drop_first=True, label="other")
    assert statuses(result) == {
        "load": "cached",
        "clean": "cached",
        "features": "cached",
        "report": "executed",
    }


def test_a_cache_false_run_still_feeds_the_cache(flow_module) -> None:
    module = flow_module()
    module.flow.run()
    result = module.flow.run(cache=False)
    assert set(statuses(result).values()) == {"executed"}
    again = module.flow.run()
    assert set(statuses(again).values()) == {"cached"}


def test_cache_false_per_run_executes_everything(flow_module) -> None:
    module = flow_module()
    module.flow.run()
    module.flow.run(cache=False)
    assert module.counts == {"load": 2, "clean": 2, "features": 2, "report": 2}


def test_cache_false_per_step_and_version_bump() -> None:
    from loopml.pipelines import pipeline, step

    seen = {"fresh": 0, "versioned": 0}

    def make(version: str):
        @step(cache=False)
        def fresh() -> int:
            seen["fresh"] += 1
            return 1

        @step(version=version)
        def versioned(x: int) -> int:
            seen["versioned"] += 1
            return x + 1

        @pipeline
        def p():
            return versioned(fresh())

        return p

    make("1").run()
    make("1").run()
    assert seen == {"fresh": 2, "versioned": 1}
    make("2").run()
    assert seen == {"fresh": 3, "versioned": 2}


def test_changing_the_seed_invalidates_seeded_results(flow_module) -> None:
    module = flow_module()
    module.flow.run(seed=1)
    result = module.flow.run(seed=2)
    assert set(statuses(result).values()) == {"executed"}
