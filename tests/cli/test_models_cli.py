"""``loopml models list|show|alias|promote|export`` against a real store."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import loopml as ml
from loopml.cli.main import app
from loopml.tracking import state

SPEC = "name: bc\ntask: binary\ntarget: target\nobjectives:\n  roc_auc: '>= 0.95'\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch, sqlite_url: str):
    """A project folder with loopml.yaml, a holdout CSV and two registered versions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    (tmp_path / "loopml.yaml").write_text(SPEC)
    bunch = load_breast_cancer(as_frame=True)
    X, y = bunch.data, bunch.target
    X.assign(target=y).iloc[400:].to_csv(tmp_path / "holdout.csv", index=False)
    options = ["--store", sqlite_url, "--artifacts", str(tmp_path / "artifacts")]
    ml.configure(store=sqlite_url, artifacts=str(tmp_path / "artifacts"))
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    for model in (good, DummyClassifier(strategy="prior")):
        with ml.start_run(experiment="bc") as run:
            run.log_model(model.fit(X[:400], y[:400]), "bc", input_example=X[:10])
    yield options, X
    for run in list(state.active_runs):
        with contextlib.suppress(Exception):
            run.end()
    ml.configure()
    with state._lock:
        state._close_store()


def cli(options, *args: str, ok: bool = True):
    result = CliRunner().invoke(app, [*options, *args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_list_show_and_alias(project):
    options, _ = project
    cli(options, "models", "alias", "bc", "champion", "1", "--reason", "first")
    listed = json.loads(cli(options, "models", "list", "--json").output)
    assert listed[0]["name"] == "bc" and listed[0]["aliases"] == {"champion": 1}
    shown = json.loads(cli(options, "models", "show", "bc", "--json").output)
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["alias_history"][0]["reason"] == "first"
    table = cli(options, "models", "show", "bc@champion").output
    assert "Alias audit log" in table and "first" in table and "Signature" in table


def test_promote_passes_gates_with_a_holdout_and_refuses_a_weak_version(project):
    options, _ = project
    ok = cli(options, "models", "promote", "bc", "1", "--holdout", "holdout.csv")
    assert "PASS" in ok.output and "promoted" in ok.output
    refused = cli(options, "models", "promote", "bc", "2", "--holdout", "holdout.csv", ok=False)
    assert refused.exit_code != 0
    assert "roc_auc >= 0.95" in str(refused.exception) and "FAIL" in str(refused.exception)
    forced = cli(
        options,
        "models",
        "promote",
        "bc",
        "2",
        "--holdout",
        "holdout.csv",
        "--force",
        "--reason",
        "drill",
    )
    assert "FORCED" in forced.output
    history = json.loads(cli(options, "models", "show", "bc", "--json").output)["alias_history"]
    assert [(e["to_version"], e["forced"]) for e in history] == [(1, False), (2, True)]


def test_export_onnx_runs_like_the_model(project, tmp_path):
    options, X = project
    out = tmp_path / "bc.onnx"
    result = cli(options, "models", "export", "bc/1", "--format", "onnx", "--output", str(out))
    assert "max difference" in result.output and out.is_file()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: X[:10].to_numpy(np.float32)}
    labels = session.run(None, feeds)[0]
    expected = ml.load_model("bc/1").predict(X[:10])
    np.testing.assert_array_equal(np.asarray(labels).ravel(), expected)


def test_bad_model_commands_exit_with_one_clear_line(project, tmp_path):
    options, _ = project
    for args, message in [
        (["models", "show", "ghost"], "'ghost' is not registered"),
        (["models", "alias", "bc", "champion", "9"], "no version 9"),
        (["models", "promote", "bc", "1", "--holdout", "missing.csv"], "is not a file"),
        (["models", "export", "bc/1", "--format", "pmml"], "pmml"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "loopml.cli.main", *options, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
