"""Lineage: which step produced an output, from which inputs and which code."""

from __future__ import annotations

import pytest

from loopml.errors import NotFound
from loopml.pipelines import lineage, pipeline, step


@step
def load(n: int) -> list[int]:
    return list(range(n))


@step
def double(values: list[int]) -> list[int]:
    return [2 * v for v in values]


@step
def total(values: list[int], extra: list[int]) -> int:
    return sum(values) + sum(extra)


@pipeline
def flow(n: int = 3):
    values = load(n)
    return total(double(values), values)


def test_lineage_of_an_output_digest() -> None:
    result = flow.run()
    digest = result.step("total").output_digests[0]
    info = result.lineage(digest)
    assert info["step"] == "total"
    assert info["inputs"] == {
        "values": result.step("double").output_digests,
        "extra": result.step("load").output_digests,
    }
    assert info["code_hash"] == result.step("total").code_hash
    with pytest.raises(NotFound):
        result.lineage("0" * 64)


def test_tree_from_the_store() -> None:
    result = flow.run()
    tree = lineage.tree(result.run_id)
    assert tree["pipeline"] == "flow" and tree["status"] == "FINISHED"
    steps = {s["step"]: s for s in tree["steps"]}
    assert list(steps) == ["load", "double", "total"]
    assert [(i["argument"], i["from_step"]) for i in steps["total"]["inputs"]] == [
        ("values", "double"),
        ("extra", "load"),
    ]
    assert steps["total"]["outputs"][0]["digest"] == result.step("total").output_digests[0]
    assert steps["total"]["run_id"] == result.step("total").run_id
    assert tree["output"]["$output"] == result.step("total").output_digests[0]
    digest = result.step("double").output_digests[0]
    assert lineage.of_digest(result.run_id, digest)["step"] == "double"


def test_render_tree_shows_steps_inputs_and_outputs() -> None:
    flow.run()
    result = flow.run()
    text = lineage.render_tree(result.run_id)
    assert f"pipeline flow  run {result.run_id}  FINISHED" in text
    assert "total  cached" in text
    assert "values ← double" in text
    assert "outputs/0.json" in text
    assert "\x1b[" not in text


def test_tree_of_a_run_that_is_not_a_pipeline() -> None:
    import loopml

    with loopml.start_run() as run:
        pass
    with pytest.raises(NotFound, match="not a pipeline run"):
        lineage.tree(run.run_id)
