"""``loopml pipeline run`` and ``loopml pipeline show`` on a real @ml.pipeline file."""

from __future__ import annotations

import json

PIPELINE_FILE = """
import pandas as pd
import loopml as ml
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


@ml.step
def load() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


@ml.step
def train(frame: pd.DataFrame, C: float) -> LogisticRegression:
    X, y = frame.drop(columns=["target"]), frame["target"]
    return LogisticRegression(C=C, max_iter=300).fit(X, y)


@ml.step
def score(model: LogisticRegression, frame: pd.DataFrame) -> float:
    return float(model.score(frame.drop(columns=["target"]), frame["target"]))


@ml.pipeline
def training(C: float = 1.0):
    frame = load()
    return score(train(frame, C), frame)
"""


def test_run_then_show_then_run_again_from_cache(tmp_path, loopml):
    (tmp_path / "flow.py").write_text(PIPELINE_FILE)
    first = loopml(tmp_path, "pipeline", "run", "flow.py:training", "--param", "C=0.5")
    assert first.returncode == 0, first.stderr
    run_id = first.stdout.split("pipeline run ")[1].split(":")[0]
    assert "FINISHED" in first.stdout
    shown = loopml(tmp_path, "pipeline", "show", run_id[:8])
    assert shown.returncode == 0, shown.stderr
    for name in ("load", "train", "score"):
        assert name in shown.stdout
    tree = json.loads(loopml(tmp_path, "pipeline", "show", run_id, "--json").stdout)
    assert tree
    again = loopml(tmp_path, "pipeline", "run", "flow.py:training", "--param", "C=0.5")
    second_id = again.stdout.split("pipeline run ")[1].split(":")[0]
    assert "cached" in loopml(tmp_path, "pipeline", "show", second_id).stdout


def test_bad_pipeline_commands_exit_with_one_clear_line(tmp_path, loopml):
    (tmp_path / "flow.py").write_text(PIPELINE_FILE)
    for args, message in [
        (["pipeline", "run", "flow.py:training", "--param", "gamma=2"], "gamma"),
        (["pipeline", "run", "flow.py:training", "--param", "C=high"], "C"),
        (["pipeline", "run", "flow.py:nothing"], "no 'nothing'"),
        (["pipeline", "run", "flow.py:load"], "not a pipeline"),
    ]:
        done = loopml(tmp_path, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr


def test_params_from_loopml_yaml_then_file_then_flags(tmp_path, loopml):
    (tmp_path / "flow.py").write_text(PIPELINE_FILE)
    (tmp_path / "loopml.yaml").write_text(
        "name: iris\ntask: multiclass\ntarget: target\nparams:\n  training:\n    C: 0.01\n"
    )
    (tmp_path / "params.yaml").write_text("C: 0.2\n")

    def used_C(*args: str) -> str:
        done = loopml(tmp_path, "pipeline", "run", "flow.py:training", *args)
        assert done.returncode == 0, done.stderr
        run_id = done.stdout.split("pipeline run ")[1].split(":")[0]
        shown = json.loads(loopml(tmp_path, "runs", "show", run_id, "--json").stdout)
        return shown["params"]["C"]

    assert used_C() == "0.01"
    assert used_C("--params-file", "params.yaml") == "0.2"
    assert used_C("--params-file", "params.yaml", "--param", "C=3") == "3"
    (tmp_path / "bad.yaml").write_text("- 1\n- 2\n")
    bad = loopml(tmp_path, "pipeline", "run", "flow.py:training", "--params-file", "bad.yaml")
    assert bad.returncode == 2 and "mapping" in bad.stderr
