"""Runs: how they start and end, nesting, seeds, names and tags, params."""

from __future__ import annotations

import random

import numpy as np
import pytest

import loopml as ml
from loopml.errors import Conflict, InvalidInput, LoopmlError, NotFound
from loopml.store.entities import RunStatus
from loopml.tracking import state


def all_runs() -> list:
    return state.get_store().search_runs(None)


# -- ending a run ------------------------------------------------------------------------
def test_with_block_finishes_the_run_with_an_end_time(any_store) -> None:
    with ml.start_run(experiment="lifecycle", name="ok") as run:
        assert ml.active_run() is run
        assert ml.get_run(run.run_id).info.status is RunStatus.RUNNING
    stored = ml.get_run(run.run_id).info
    assert stored.status is RunStatus.FINISHED
    assert stored.end_time is not None and stored.end_time >= stored.start_time
    assert stored.error is None
    assert stored.name == "ok"
    assert ml.active_run() is None


def test_exception_marks_the_run_failed_with_its_traceback() -> None:
    with pytest.raises(ValueError, match="boom-1234"), ml.start_run(name="bad") as run:
        ml.log_metric("before", 1.0)
        raise ValueError("boom-1234")
    stored = ml.get_run(run.run_id)
    assert stored.info.status is RunStatus.FAILED
    assert stored.info.end_time is not None
    assert "Traceback" in stored.info.error
    assert "ValueError: boom-1234" in stored.info.error
    assert stored.metrics["before"].value == 1.0  # what was logged before the failure is kept
    assert ml.active_run() is None


def test_keyboard_interrupt_marks_the_run_killed() -> None:
    with pytest.raises(KeyboardInterrupt), ml.start_run() as run:
        raise KeyboardInterrupt
    assert ml.get_run(run.run_id).info.status is RunStatus.KILLED
    assert ml.active_run() is None


def test_interrupt_in_a_nested_run_kills_child_and_parent() -> None:
    with pytest.raises(KeyboardInterrupt), ml.start_run() as parent, ml.start_run() as child:
        raise KeyboardInterrupt
    assert ml.get_run(child.run_id).info.status is RunStatus.KILLED
    assert ml.get_run(parent.run_id).info.status is RunStatus.KILLED


def test_failure_in_a_child_caught_by_the_parent_leaves_the_parent_running() -> None:
    with ml.start_run() as parent:
        with pytest.raises(ZeroDivisionError), ml.start_run() as child:
            1 / 0  # noqa: B018
        assert ml.active_run() is parent
    assert ml.get_run(child.run_id).info.status is RunStatus.FAILED
    assert ml.get_run(parent.run_id).info.status is RunStatus.FINISHED


def test_clean_sys_exit_inside_a_run_finishes_it() -> None:
    with pytest.raises(SystemExit), ml.start_run() as run:
        raise SystemExit(0)
    assert ml.get_run(run.run_id).info.status is RunStatus.FINISHED


def test_end_run_without_with_block() -> None:
    run = ml.start_run(name="manual")
    ml.log_metric("m", 2.0)
    ml.end_run()
    stored = ml.get_run(run.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.metrics["m"].value == 2.0
    assert ml.active_run() is None
    run.end()  # ending twice does nothing
    assert ml.get_run(run.run_id).info.end_time == stored.info.end_time


# -- nesting ------------------------------------------------------------------------------
def test_nested_runs_get_the_parent_and_inherit_its_experiment() -> None:
    with ml.start_run(experiment="nest", name="parent") as parent:
        with ml.start_run(name="child") as child:
            assert ml.active_run() is child
            with ml.start_run(name="grandchild") as grandchild:
                pass
        assert ml.active_run() is parent
    child_info = ml.get_run(child.run_id).info
    grandchild_info = ml.get_run(grandchild.run_id).info
    parent_info = ml.get_run(parent.run_id).info
    assert child_info.parent_run_id == parent.run_id
    assert grandchild_info.parent_run_id == child.run_id
    assert parent_info.parent_run_id is None
    assert child_info.experiment_id == parent_info.experiment_id
    assert grandchild_info.experiment_id == parent_info.experiment_id
    names = ml.search_runs("nest")["name"].tolist()
    assert sorted(names) == ["child", "grandchild", "parent"]


def test_nested_false_starts_an_independent_run() -> None:
    with ml.start_run(experiment="a") as outer, ml.start_run(nested=False) as inner:
        pass
    inner_info, outer_info = ml.get_run(inner.run_id).info, ml.get_run(outer.run_id).info
    assert inner_info.parent_run_id is None
    assert inner_info.experiment_id != outer_info.experiment_id


def test_module_level_logging_goes_to_the_innermost_run() -> None:
    with ml.start_run() as parent:
        with ml.start_run() as child:
            ml.log_metric("loss", 0.5)
            ml.log_param("depth", 3)
            ml.set_tag("stage", "inner")
        ml.log_metric("loss", 0.7)
    assert ml.get_run(child.run_id).metrics["loss"].value == 0.5
    assert ml.get_run(child.run_id).params == {"depth": "3"}
    assert ml.get_run(child.run_id).tags["stage"] == "inner"
    assert ml.get_run(parent.run_id).metrics["loss"].value == 0.7
    assert ml.get_run(parent.run_id).params == {}


# -- seeds --------------------------------------------------------------------------------
def draws(seed: int) -> tuple[float, float]:
    with ml.start_run(seed=seed) as run:
        values = (float(np.random.rand()), random.random())
    assert ml.get_run(run.run_id).info.seed == seed
    return values


def test_seed_is_recorded_and_seeds_numpy_and_random() -> None:
    first = draws(7)
    np.random.rand(), random.random()  # move the generators on
    again = draws(7)
    other = draws(8)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "7", True])
def test_invalid_seed_is_refused_before_a_run_exists(seed) -> None:
    with pytest.raises(InvalidInput, match="seed"):
        ml.start_run(seed=seed)
    assert all_runs() == []
    assert ml.active_run() is None


def test_run_without_seed_records_none() -> None:
    with ml.start_run() as run:
        pass
    assert ml.get_run(run.run_id).info.seed is None


def test_default_experiment_and_loopml_experiment_variable(monkeypatch) -> None:
    with ml.start_run() as plain:
        pass
    monkeypatch.setenv("LOOPML_EXPERIMENT", "from-env")
    with ml.start_run() as from_env:
        pass
    assert run_ids_of(ml.search_runs("default")) == [plain.run_id]
    assert run_ids_of(ml.search_runs("from-env")) == [from_env.run_id]


def run_ids_of(frame) -> list[str]:
    return frame["run_id"].tolist()


@pytest.mark.parametrize("experiment", ["bad*name", "x" * 251])
def test_invalid_experiment_name_is_refused(experiment) -> None:
    with pytest.raises(InvalidInput, match="experiment"):
        ml.start_run(experiment=experiment)
    assert ml.list_experiments() == []
    assert all_runs() == []


# -- names and tags -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "problem"),
    [("bad*name", "'*'"), ("two\nlines", "illegal character"), ("x" * 251, "250"), ("", "empty")],
)
def test_invalid_run_name_is_refused(name, problem) -> None:
    with pytest.raises(InvalidInput) as caught:
        ml.start_run(name=name)
    assert problem in str(caught.value)
    assert "run name" in str(caught.value)
    assert all_runs() == []


def test_longest_legal_run_name_is_kept() -> None:
    name = "n" * 250
    with ml.start_run(name=name) as run:
        pass
    assert ml.get_run(run.run_id).info.name == name


def test_tags_given_at_start_and_set_later() -> None:
    with ml.start_run(tags={"team": "fraud", "version": 2}) as run:
        ml.set_tags({"stage": "dev", "owner": "ana"})
        run.set_tag("stage", "prod")  # tags may change, unlike params
    tags = ml.get_run(run.run_id).tags
    assert tags["team"] == "fraud"
    assert tags["version"] == "2"
    assert tags["stage"] == "prod"
    assert tags["owner"] == "ana"


@pytest.mark.parametrize("tags", [["team", "x"], "team=x"])
def test_tags_must_be_a_mapping(tags) -> None:
    with pytest.raises(InvalidInput, match="mapping"):
        ml.start_run(tags=tags)
    assert all_runs() == []


def test_bad_tag_key_at_start_creates_no_run() -> None:
    with pytest.raises(InvalidInput, match="illegal character"):
        ml.start_run(tags={"ok": 1, "a\nb": 2})
    assert all_runs() == []
    assert ml.active_run() is None


def test_bad_tag_key_later_writes_none_of_the_tags() -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="'\\*'"):
        run.set_tags({"fine": "1", "bad*key": "2"})
    assert "fine" not in ml.get_run(run.run_id).tags


# -- using a run the wrong way ----------------------------------------------------------------
def test_logging_after_the_run_ended_raises(tmp_path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with ml.start_run() as run:
        pass
    attempts = [
        lambda: run.log_metric("m", 1.0),
        lambda: run.log_metrics({"m": 1.0}),
        lambda: run.log_param("p", 1),
        lambda: run.set_tag("t", "v"),
        lambda: run.log_artifact(file),
        lambda: run.log_text("x", "x.txt"),
    ]
    for attempt in attempts:
        with pytest.raises(LoopmlError, match="has ended"):
            attempt()
    stored = ml.get_run(run.run_id)
    assert stored.metrics == {} and stored.params == {}
    assert "t" not in stored.tags


@pytest.mark.parametrize(
    "call",
    [
        lambda: ml.log_metric("x", 1.0),
        lambda: ml.log_metrics({"x": 1.0}),
        lambda: ml.log_param("p", 1),
        lambda: ml.set_tag("t", "v"),
        lambda: ml.end_run(),
    ],
)
def test_module_level_calls_without_an_active_run_say_so(call) -> None:
    with pytest.raises(LoopmlError, match="no active run.*start_run"):
        call()


def test_unknown_run_id_is_not_found() -> None:
    with pytest.raises(NotFound, match="does not exist"):
        ml.get_run("0" * 32)
    with pytest.raises(NotFound, match="does not exist"):
        ml.get_metric_history("0" * 32, "loss")


# -- params -----------------------------------------------------------------------------------
def test_params_are_stored_as_text() -> None:
    with ml.start_run() as run:
        run.log_params({"lr": 0.01, "layers": 3, "kind": "rf", "none": None})
    assert ml.get_run(run.run_id).params == {
        "lr": "0.01",
        "layers": "3",
        "kind": "rf",
        "none": "None",
    }


def test_same_param_value_twice_is_fine() -> None:
    with ml.start_run() as run:
        run.log_param("alpha", 0.5)
        run.log_param("alpha", 0.5)
        run.log_params({"alpha": 0.5, "beta": 1})
    assert ml.get_run(run.run_id).params == {"alpha": "0.5", "beta": "1"}


def test_changing_a_param_is_a_conflict_naming_the_key_and_both_values(any_store) -> None:
    with ml.start_run() as run:
        run.log_param("learning_rate", 0.125)
        with pytest.raises(Conflict) as caught:
            run.log_param("learning_rate", 0.25)
    message = str(caught.value)
    assert "learning_rate" in message
    assert "0.125" in message and "0.25" in message
    assert ml.get_run(run.run_id).params == {"learning_rate": "0.125"}


def test_conflict_in_a_batch_writes_nothing_of_the_batch(any_store) -> None:
    with ml.start_run() as run:
        run.log_params({"a": 1, "b": "x"})
        with pytest.raises(Conflict, match="'b'"):
            run.log_params({"c": 3, "b": "y", "d": 4})
    assert ml.get_run(run.run_id).params == {"a": "1", "b": "x"}


def test_param_value_limit_is_6000_characters() -> None:
    with ml.start_run() as run:
        run.log_param("fits", "v" * 6000)
        with pytest.raises(InvalidInput) as caught:
            run.log_params({"other": 1, "too_long": "v" * 6001})
    assert "too_long" in str(caught.value) and "6001" in str(caught.value)
    assert ml.get_run(run.run_id).params == {"fits": "v" * 6000}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("a*b", "illegal character '*'"),
        ("a\nb", "illegal character '\\n'"),
        ("k" * 251, "251 characters long"),
        ("", "empty"),
        (3, "must be a string"),
    ],
)
def test_bad_param_key_is_refused_naming_the_problem(key, problem) -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput) as caught:
        run.log_params({"good": 1, key: 2})
    assert problem in str(caught.value)
    assert ml.get_run(run.run_id).params == {}


def test_longest_legal_param_key() -> None:
    key = "k" * 250
    with ml.start_run() as run:
        run.log_param(key, 1)
    assert ml.get_run(run.run_id).params == {key: "1"}


def test_params_must_be_a_mapping() -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="mapping"):
        run.log_params([("a", 1)])


def test_end_with_an_unknown_status_is_refused_and_the_run_stays_open() -> None:
    run = ml.start_run(name="open")
    with pytest.raises(InvalidInput, match="FINISHED.*'DONE'"):
        ml.end_run("DONE")
    with pytest.raises(InvalidInput, match="'RUNNING'"):
        run.end("RUNNING")
    run.log_metric("still", 1.0)
    run.end("killed")
    assert ml.get_run(run.run_id).info.status.value == "KILLED"
