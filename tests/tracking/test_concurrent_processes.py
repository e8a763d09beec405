"""Eight processes tracking into one SQLite file through the public API, all at once."""

from __future__ import annotations

import os
import subprocess
import sys

import loopml as ml

SCRIPT = """
import sys
import loopml as ml
worker = int(sys.argv[1])
with ml.start_run(experiment="shared", name=f"w{worker}") as run:
    run.log_params({"worker": worker})
    for step in range(5000):
        run.log_metrics({"loss": 1 / (step + 1), "acc": step / 5000}, step=step)
        if step % 1000 == 0:
            run.set_tag("progress", str(step))
print(run.run_id)
"""


def test_eight_processes_lose_nothing_and_never_lock(tracking, tmp_path):
    env = {
        **os.environ,
        "LOOPML_STORE": tracking.store_url,
        "LOOPML_ARTIFACTS": str(tracking.artifacts),
    }
    ml.start_run(experiment="shared", name="warm").end()  # the store exists before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(w)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    run_ids = [out.strip() for out, _ in outputs]
    found = ml.search_runs("shared", filter="params.worker IS NOT NULL", limit=100)
    assert sorted(found["run_id"]) == sorted(run_ids)
    assert set(found["status"]) == {"FINISHED"}
    for run_id in run_ids:
        for key in ("loss", "acc"):
            history = ml.get_metric_history(run_id, key)
            assert history["step"].tolist() == list(range(5000))
