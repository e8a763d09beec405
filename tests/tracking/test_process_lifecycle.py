"""How a run ends when its process ends: signals, uncaught errors, normal exit, a crash."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import loopml as ml
from loopml.store.entities import RunStatus
from loopml.tracking import state

SLEEPER = """
import time
import loopml as ml

with ml.start_run(experiment="life", name="sleeper") as run:
    run.log_metric("progress", 0.25, step=1)
    print(run.run_id, flush=True)
    print("ready", flush=True)
    time.sleep(60)
print("not reached", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_marks_the_run_killed(tracking, tmp_path, signum) -> None:
    env = {
        **os.environ,
        "LOOPML_STORE": tracking.store_url,
        "LOOPML_ARTIFACTS": str(tracking.artifacts),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", SLEEPER],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    assert "not reached" not in out
    if signum == signal.SIGTERM:
        assert child.returncode == -signal.SIGTERM  # the default action still happens
    stored = ml.get_run(run_id)
    assert stored.info.status is RunStatus.KILLED, err
    assert stored.info.end_time is not None
    assert stored.metrics["progress"].value == 0.25  # the buffered point was flushed


def test_uncaught_exception_without_with_marks_the_run_failed(
    run_python, tracking, tmp_path
) -> None:
    code = (
        "import loopml as ml\n"
        "run = ml.start_run(experiment='life')\n"
        "print(run.run_id, flush=True)\n"
        "ml.log_metric('before', 1.0)\n"
        "raise RuntimeError('kaput-42')\n"
    )
    done = run_python(code, tracking, cwd=tmp_path)
    assert done.returncode == 1
    assert "kaput-42" in done.stderr  # the user still sees the traceback
    stored = ml.get_run(done.stdout.split()[0])
    assert stored.info.status is RunStatus.FAILED
    assert "RuntimeError: kaput-42" in stored.info.error
    assert stored.metrics["before"].value == 1.0


def test_normal_exit_without_with_finishes_the_run_and_flushes(
    run_python, tracking, tmp_path
) -> None:
    code = (
        "import loopml as ml\n"
        "run = ml.start_run(experiment='life')\n"
        "for step in range(300):\n"
        "    ml.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "print(run.run_id)\n"
    )
    done = run_python(code, tracking, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[0]
    assert ml.get_run(run_id).info.status is RunStatus.FINISHED
    history = ml.get_metric_history(run_id, "loss")
    assert history["value"].tolist() == [1.0 / (s + 1) for s in range(300)]


def test_crash_keeps_flushed_points_and_the_store_intact(run_python, tracking, tmp_path) -> None:
    code = (
        "import os\n"
        "import loopml as ml\n"
        "run = ml.start_run(experiment='life')\n"
        "print(run.run_id, flush=True)\n"
        "for step in range(1000):\n"
        "    ml.log_metric('x', step * 0.5, step=step)\n"
        "ml.flush()\n"
        "for step in range(1000, 1010):\n"
        "    ml.log_metric('x', step * 0.5, step=step)\n"
        "os._exit(1)\n"
    )
    done = run_python(code, tracking, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    run_id = done.stdout.split()[0]

    with sqlite3.connect(tracking.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    stored = state.get_store().get_metric_history(run_id, "x")
    assert len(stored) in (1000, 1010)  # only the unflushed tail may be lost
    assert np.array_equal(stored.steps[:1000], np.arange(1000))
    assert np.array_equal(stored.values[:1000], np.arange(1000) * 0.5)
    assert ml.get_run(run_id).info.status is RunStatus.RUNNING  # nobody could end it

    with ml.start_run(experiment="life") as after:  # the store still takes writes
        after.log_metric("y", 1.0)
    assert ml.get_run(after.run_id).metrics["y"].value == 1.0
