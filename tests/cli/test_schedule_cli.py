"""``loopml schedule add|list|remove`` and ``loopml scheduler --once``."""

from __future__ import annotations

import json

import sqlalchemy as sa

PIPELINE_FILE = """
import loopml as ml

class Pipeline:
    def run(self, **params):
        with ml.start_run(experiment="scheduled") as run:
            run.log_params(params)
        return run

training = Pipeline()
"""


def test_schedule_add_list_run_once_and_remove(tmp_path, loopml):
    (tmp_path / "train.py").write_text(PIPELINE_FILE)
    added = loopml(
        tmp_path,
        "schedule",
        "add",
        "nightly",
        "--cron",
        "0 3 * * *",
        "--pipeline",
        "train.py:training",
        "--param",
        "C=0.5",
        "--param",
        "tag=rf",
    )
    assert added.returncode == 0, added.stderr
    assert "next run" in added.stdout
    [listed] = json.loads(loopml(tmp_path, "schedule", "list", "--json").stdout)
    assert listed["params"] == {"C": 0.5, "tag": "rf"} and listed["cron"] == "0 3 * * *"

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'home' / 'loopml.db'}")
    with engine.begin() as conn:  # make it due now
        conn.execute(sa.text("UPDATE schedules SET next_run_time = 0"))
    engine.dispose()
    ran = loopml(tmp_path, "scheduler", "--once")
    assert ran.returncode == 0, ran.stderr
    assert "nightly: FINISHED" in ran.stdout
    [listed] = json.loads(loopml(tmp_path, "schedule", "list", "--json").stdout)
    assert listed["last_status"] == "FINISHED" and listed["next_run_time"] > 0

    assert loopml(tmp_path, "schedule", "remove", "nightly").returncode == 0
    assert json.loads(loopml(tmp_path, "schedule", "list", "--json").stdout) == []


def test_bad_schedule_commands_exit_with_one_clear_line(tmp_path, loopml):
    (tmp_path / "train.py").write_text(PIPELINE_FILE)
    for args, message in [
        (
            ["schedule", "add", "x", "--cron", "every day", "--pipeline", "train.py:training"],
            "does not parse",
        ),
        (
            ["schedule", "add", "x", "--cron", "0 3 * * *", "--pipeline", "nope.py:training"],
            "does not exist",
        ),
        (
            [
                "schedule",
                "add",
                "x",
                "--cron",
                "0 3 * * *",
                "--pipeline",
                "train.py:training",
                "--param",
                "novalue",
            ],
            "NAME=VALUE",
        ),
        (["schedule", "remove", "ghost"], "'ghost' does not exist"),
    ]:
        done = loopml(tmp_path, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
