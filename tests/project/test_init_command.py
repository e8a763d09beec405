"""``loopml init NAME``: a project that validates, and whose pipeline runs and is tracked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import loopml as ml
from loopml.cli.init import init_command, sample_data, scaffold_project
from loopml.errors import Conflict, InvalidInput
from loopml.project import load_project
from loopml.tracking import state

SCAFFOLD = {"loopml.yaml", "pipeline.py", "README.md", ".gitignore", "data/train.csv"}
SCAFFOLD |= {"data/test.csv"}


def cli() -> typer.Typer:
    """A small app that mounts the command as main.py does."""
    app = typer.Typer()
    app.command("init")(init_command)

    @app.callback()
    def _root() -> None:  # a callback keeps `init` a subcommand
        pass

    return app


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def run_pipeline(folder: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"LOOPML_STORE", "LOOPML_ARTIFACTS"}}
    env["LOOPML_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "pipeline.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def tracking_reset() -> object:
    yield
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    ml.configure()
    with state._lock:
        state._close_store()


@pytest.mark.parametrize(
    ("task", "first_metric"),
    [("binary", "roc_auc"), ("multiclass", "accuracy"), ("regression", "r2")],
)
def test_init_scaffolds_a_project_whose_pipeline_runs_and_is_tracked(
    task: str, first_metric: str, tmp_path: Path, tracking_reset: object
) -> None:
    result = CliRunner().invoke(
        cli(), ["init", f"demo-{task}", "--path", str(tmp_path), "--task", task]
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    folder = tmp_path / f"demo-{task}"
    assert files_in(folder) == SCAFFOLD
    assert "python pipeline.py" in result.output

    spec = load_project(folder)
    assert (spec.name, spec.task, spec.target) == (f"demo-{task}", task, "target")
    assert spec.sensitive == ["group"]
    assert spec.objective_list()[0].metric == first_metric
    assert [f.column for f in spec.fairness] == ["group"]
    for role in ("train", "test"):
        frame = pd.read_csv(spec.resolve(spec.data_for(role)))
        assert {"group", "target"} <= set(frame.columns)
        assert set(frame["group"]) == {"a", "b"}
    yaml_text = (folder / "loopml.yaml").read_text()
    assert yaml_text.count("\n#") >= 10  # every section is explained
    readme = (folder / "README.md").read_text()
    for command in ("python pipeline.py", f"loopml runs list -e demo-{task}", "loopml.yaml"):
        assert command in readme

    home = tmp_path / "home"
    done = run_pipeline(folder, home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout  # the sample model meets the sample objectives

    ml.configure(store=f"sqlite:///{home / 'loopml.db'}", artifacts=str(home / "artifacts"))
    runs = ml.search_runs(f"demo-{task}")
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "FINISHED"
    assert row["tags.objectives"] == "pass"
    assert row[f"metrics.{first_metric}"] > 0
    assert row["metrics.latency_p95_ms"] > 0
    assert f"metrics.{spec.fairness[0].metric_key}" in runs.columns
    assert row["params.task"] == task
    run = ml.get_run(row["run_id"])
    assert sorted((d.name, d.role) for d in run.datasets) == [("test", "test"), ("train", "train")]


def test_init_defaults_to_binary_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli(), ["init", "here"])
    assert result.exit_code == 0, result.output
    assert load_project(tmp_path / "here").task == "binary"


def test_an_existing_non_empty_folder_is_refused_unless_forced(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli(), ["init", "taken", "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, Conflict)
    assert "not empty" in str(result.exception) and "--force" in str(result.exception)
    assert files_in(folder) == {"notes.txt"}

    result = CliRunner().invoke(cli(), ["init", "taken", "--path", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert files_in(folder) == SCAFFOLD | {"notes.txt"}
    assert (folder / "notes.txt").read_text() == "mine"


def test_an_existing_empty_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert scaffold_project("empty", tmp_path, "regression") == tmp_path / "empty"
    assert load_project(tmp_path / "empty").task == "regression"


@pytest.mark.parametrize("name", ["my project", "../escape", "a/b", "_hidden", "é", "x" * 65])
def test_a_name_that_is_not_a_slug_is_refused(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["init", name, "--path", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput)
    assert "not a slug" in str(result.exception)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_task_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["init", "p", "--path", str(tmp_path), "--task", "ranking"])
    assert result.exit_code == 2
    assert "ranking" in result.output
    with pytest.raises(InvalidInput, match="binary, multiclass, regression"):
        scaffold_project("p", tmp_path, "ranking")


def test_sample_data_is_deterministic_and_stratified() -> None:
    train, test = sample_data("binary")
    again, _ = sample_data("binary")
    pd.testing.assert_frame_equal(train, again)
    assert len(train) + len(test) == 569
    assert list(train.columns)[-2:] == ["group", "target"]
    assert all(c == c.lower() and " " not in c for c in train.columns)
    share = train["target"].mean(), test["target"].mean()
    assert abs(share[0] - share[1]) < 0.02
