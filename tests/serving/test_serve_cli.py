"""`loopml serve` as a user runs it: a real process, several workers, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loopml.serving.local import free_port
from loopml.tracking import state


def _env(store: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LOOPML_STORE": store, "LOOPML_ARTIFACTS": str(tmp_path / "artifacts")}


def _serve(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loopml.cli.main", "serve", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs,
    )


@pytest.mark.slow
def test_two_workers_serve_and_sigterm_flushes_the_log(kit, serving_store, tmp_path):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    port = free_port()
    server = _serve(["cancer@champion", "--port", str(port), "--workers", "2"],
                    _env(serving_store, tmp_path), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert kit.wait_ready(url), server.stdout.read1().decode()
        ids = []
        with httpx.Client() as client:
            for i in range(30):
                body = {"instances": X.iloc[[i]].to_dict("records")}
                r = client.post(f"{url}/predict", json=body)
                assert r.status_code == 200
                ids += r.json()["prediction_ids"]
        metrics = list(text_string_to_metric_families(httpx.get(f"{url}/metrics").text))
        os.killpg(server.pid, signal.SIGTERM)  # what a process manager sends
        output = server.communicate(timeout=60)[0].decode()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert "serving cancer/1" in output
    samples = [s for family in metrics for s in family.samples]
    served = sum(s.value for s in samples if s.name == "loopml_requests_total"
                 and s.labels == {"endpoint": "/predict", "code": "200"})
    assert served == 30  # summed over both workers, whichever one answered the scrape
    pids = {s.labels["pid"] for s in samples if s.name == "loopml_worker_resident_memory_bytes"}
    assert len(pids) == 2
    stored = {e.prediction_id for e in state.get_store().list_predictions("cancer")}
    assert stored == set(ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing@champion"], "nothing"),
        (["cancer@champion", "--workers", "0"], "--workers"),
        (["cancer@champion", "--unseen-categories", "maybe"], "unseen_categories"),
        (["cancer@champion", "--mode", "both"], "challenger_mode"),
        (["bad name!"], "model"),
    ],
)
def test_bad_arguments_are_one_clear_line(kit, serving_store, tmp_path, args, message):
    kit.register_classifier()
    done = subprocess.run(
        [sys.executable, "-m", "loopml.cli.main", "serve", *args],
        env=_env(serving_store, tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in done.stderr
