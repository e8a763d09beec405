"""The ``loopml`` command: experiments and runs, for people (tables) and scripts (--json)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

import loopml as ml
from loopml.cli.main import app
from loopml.tracking import state


@dataclass(frozen=True)
class Store:
    url: str
    artifacts: str
    ids: dict[str, str]  # run name -> run id

    @property
    def options(self) -> list[str]:
        return ["--store", self.url, "--artifacts", self.artifacts]


def reset_tracking() -> None:
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    ml.configure()
    with state._lock:
        state._close_store()


@pytest.fixture
def store(sqlite_url: str, tmp_path: Path, monkeypatch) -> Iterator[Store]:
    """A store with three runs in "cli" and one in "other", written through the API."""
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))  # never the repo's .loopml
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    artifacts = str(tmp_path / "artifacts")
    ml.configure(store=sqlite_url, artifacts=artifacts)
    ids = {}
    for name, model, auc, depth in [
        ("rf", "forest", 0.91, 5),
        ("lr", "logreg", 0.87, 5),
        ("gb", "boosting", 0.95, 3),
    ]:
        with ml.start_run(experiment="cli", name=name) as run:
            run.log_params({"model": model, "depth": depth, "seed": 1})
            run.log_metrics({"auc": auc, "loss": 1 - auc})
        ids[name] = run.run_id
    with ml.start_run(experiment="other", name="odd") as run:
        run.log_metric("auc", float("nan"))
        run.log_metric("gain", float("inf"))
    ids["odd"] = run.run_id
    reset_tracking()
    yield Store(sqlite_url, artifacts, ids)
    reset_tracking()


def invoke(store: Store, *args: str):
    result = CliRunner().invoke(app, [*store.options, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def loopml_command() -> list[str]:
    script = Path(sys.executable).parent / "loopml"
    return [str(script)] if script.exists() else [sys.executable, "-m", "loopml.cli.main"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*loopml_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
    )


def test_experiments_list_json(store) -> None:
    data = json.loads(invoke(store, "experiments", "list", "--json").stdout)
    assert [e["name"] for e in data] == ["cli", "other"]
    assert all(isinstance(e["experiment_id"], int) for e in data)


def test_experiments_list_table(store) -> None:
    output = invoke(store, "experiments", "list").stdout
    assert "cli" in output and "other" in output


def test_runs_list_json_with_filter_and_order(store) -> None:
    result = invoke(
        store,
        "runs",
        "list",
        "--json",
        "-e",
        "cli",
        "--filter",
        "metrics.auc > 0.88 or params.model = 'logreg'",
        "--order-by",
        "metrics.auc desc",
    )
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["gb", "rf", "lr"]
    assert [r["run_id"] for r in rows] == [store.ids["gb"], store.ids["rf"], store.ids["lr"]]
    assert rows[0]["metrics.auc"] == 0.95
    assert rows[0]["params.model"] == "boosting"
    assert rows[0]["status"] == "FINISHED"

    rows = json.loads(
        invoke(
            store,
            "runs",
            "list",
            "--json",
            "-e",
            "cli",
            "--filter",
            "params.depth = '5'",
            "--order-by",
            "attributes.name",
            "--limit",
            "1",
            "--offset",
            "1",
        ).stdout
    )
    assert [r["name"] for r in rows] == ["rf"]


def test_runs_show_json_writes_nan_and_inf_as_strings(store) -> None:
    data = json.loads(invoke(store, "runs", "show", store.ids["odd"], "--json").stdout)
    assert data["metrics"] == {"auc": "NaN", "gain": "Infinity"}


def test_runs_list_json_writes_inf_as_a_string(store) -> None:
    rows = json.loads(invoke(store, "runs", "list", "--json", "-e", "other").stdout)
    assert rows[0]["metrics.gain"] == "Infinity"


def test_runs_list_shows_a_logged_nan_as_nan_and_a_missing_metric_as_null(store) -> None:
    ml.configure(store=store.url, artifacts=store.artifacts)
    with ml.start_run(experiment="other", name="bare") as run:
        run.log_metric("loss", 0.5)
    reset_tracking()
    rows = json.loads(invoke(store, "runs", "list", "--json", "-e", "other").stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["odd"]["metrics.auc"] == "NaN"
    assert by_name["odd"]["metrics.loss"] is None
    assert by_name["bare"]["metrics.auc"] is None
    assert by_name["bare"]["metrics.loss"] == 0.5
    table = invoke(store, "runs", "list", "-e", "other").stdout
    assert "nan" in table


def test_runs_list_table_names_the_runs(store) -> None:
    output = invoke(store, "runs", "list", "-e", "cli").stdout
    for name in ("rf", "lr", "gb"):
        assert name in output


def test_runs_show_json(store) -> None:
    data = json.loads(invoke(store, "runs", "show", store.ids["rf"], "--json").stdout)
    assert data["info"]["run_id"] == store.ids["rf"]
    assert data["info"]["status"] == "FINISHED"
    assert data["info"]["name"] == "rf"
    assert data["params"] == {"model": "forest", "depth": "5", "seed": "1"}
    assert data["metrics"]["auc"] == 0.91
    assert "loopml.python" in data["tags"]


def test_runs_show_table(store) -> None:
    output = invoke(store, "runs", "show", store.ids["gb"]).stdout
    assert "boosting" in output and "0.95" in output


def test_runs_compare_marks_differing_params(store) -> None:
    output = invoke(store, "runs", "compare", store.ids["rf"], store.ids["gb"]).stdout
    lines = output.splitlines()

    def line_of(label: str) -> str:
        return next(line for line in lines if label in line)

    assert "*" in line_of("params.model")
    assert "*" in line_of("params.depth")
    assert "*" not in line_of("params.seed")
    assert "forest" in line_of("params.model") and "boosting" in line_of("params.model")

    same_depth = invoke(store, "runs", "compare", store.ids["rf"], store.ids["lr"]).stdout
    depth_line = next(line for line in same_depth.splitlines() if "params.depth" in line)
    assert "*" not in depth_line


def test_runs_compare_json(store) -> None:
    data = json.loads(
        invoke(store, "runs", "compare", store.ids["rf"], store.ids["lr"], "--json").stdout
    )
    assert [d["info"]["name"] for d in data] == ["rf", "lr"]


def test_store_from_the_environment(store) -> None:
    env = {"LOOPML_STORE": store.url, "LOOPML_ARTIFACTS": store.artifacts}
    result = CliRunner().invoke(app, ["experiments", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [e["name"] for e in json.loads(result.stdout)] == ["cli", "other"]


def test_bad_filter_exits_non_zero_with_a_caret(store) -> None:
    done = run_cli(*store.options, "runs", "list", "-e", "cli", "--filter", "metrics.auc >> 1")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr
    lines = done.stderr.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1][lines[caret].index("^") :].startswith(">>")


def test_unknown_run_and_experiment_exit_non_zero_with_a_clear_message(store) -> None:
    done = run_cli(*store.options, "runs", "show", "f" * 32)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "f" * 32 in done.stderr and "does not exist" in done.stderr

    result = CliRunner().invoke(app, [*store.options, "runs", "list", "-e", "nope"])
    assert result.exit_code != 0
    assert "nope" in str(result.exception)


def test_demo_runs_the_loop_and_prints_the_search(tmp_path) -> None:
    env = {"LOOPML_HOME": str(tmp_path / "home")}
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS"):
        env[name] = ""
    done = run_cli("demo", "--runs", "2", env=env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "search:" in done.stdout
    assert "logreg" in done.stdout
    assert "champion" in done.stdout and "loaded breast-cancer/1 by alias" in done.stdout
    assert (tmp_path / "home" / "loopml.db").exists()
    again = run_cli("demo", "--runs", "2", env=env, cwd=tmp_path, timeout=180)
    assert again.returncode == 0, again.stderr  # a second demo in the same store works too
    assert "registered breast-cancer versions 3, 4" in again.stdout


def test_runs_show_accepts_the_short_id_the_table_prints(store: Store) -> None:
    table = invoke(store, "runs", "list", "-e", "cli").output
    short = store.ids["rf"][:8]
    assert short in table and store.ids["rf"] not in table
    shown = json.loads(invoke(store, "runs", "show", short, "--json").output)
    assert shown["info"]["run_id"] == store.ids["rf"]
    unknown = "0" * 8 if not any(i.startswith("0" * 8) for i in store.ids.values()) else "f" * 8
    result = CliRunner().invoke(app, [*store.options, "runs", "show", unknown])
    assert result.exit_code != 0 and unknown in str(result.exception)
