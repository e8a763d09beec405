"""The prediction log: complete, off the request path, bounded, crash-safe, PII-safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from loopml.project import parse_project
from loopml.serving.app import create_app
from loopml.serving.local import free_port
from loopml.serving.options import ServeOptions
from loopml.tracking import state


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def test_every_prediction_is_stored_with_what_monitoring_needs(kit):
    model = kit.register_classifier()
    X, _ = kit.breast_cancer()
    rows = X.iloc[:5]
    with kit.running(create_app("cancer@champion", ServeOptions(flush_interval_s=0.1))) as url:
        body = httpx.post(f"{url}/predict", json={"instances": rows.to_dict("records")}).json()
        store = state.get_store()
        events = _wait_for(lambda: store.list_predictions("cancer") if len(
            store.list_predictions("cancer")) == 5 else None)
    by_id = {e.prediction_id: e for e in events}
    assert set(by_id) == set(body["prediction_ids"])
    events = [by_id[i] for i in body["prediction_ids"]]
    proba = model.predict_proba(rows)
    for event, (_, row), p in zip(events, rows.iterrows(), proba, strict=True):
        assert event.version == 1 and event.status == "ok" and not event.shadow
        assert event.inputs == pytest.approx(row.to_dict())
        assert event.outputs["prediction"] == int(p.argmax())
        assert event.outputs["probabilities"]["1"] == pytest.approx(p[1])
        assert event.confidence == pytest.approx(p.max())
        assert 0 < event.latency_ms < 10_000
        assert abs(event.time - time.time() * 1000) < 60_000


class _BrokenStore:
    """A store that fails or hangs on demand: a fault a real database won't give on cue."""

    def __init__(self, real, mode: str) -> None:
        self.real, self.mode = real, mode

    def log_predictions(self, events):
        if self.mode == "down":
            raise ConnectionError("database is down")
        if self.mode == "slow":
            time.sleep(3)
        return self.real.log_predictions(events)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.mark.parametrize("mode", ["down", "slow"])
def test_a_failing_or_slow_store_never_blocks_predictions(kit, mode):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    app = create_app("cancer@champion", ServeOptions(flush_interval_s=0.05, log_buffer=30))
    service = app.state.service
    broken = _BrokenStore(state.get_store(), mode)
    service.log._get_store = lambda: broken
    body = {"instances": X.head(1).to_dict("records")}
    with kit.running(app) as url:
        time.sleep(0.2)  # the log thread is now stuck in (or failing) its first write
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(
                lambda _: httpx.post(f"{url}/predict", json=body, timeout=10).status_code,
                range(60),
            ))
        elapsed = time.perf_counter() - started
        assert codes == [200] * 60
        assert elapsed < 2.5  # not waiting on the 3 s store write
        metrics = httpx.get(f"{url}/metrics").text
        dropped = [line for line in metrics.splitlines()
                   if line.startswith("loopml_prediction_log_dropped_total")]
        assert float(dropped[0].split()[-1]) >= 60 - 30  # the buffer holds 30
        if mode == "down":
            assert "loopml_prediction_log_write_failures_total" in metrics
            broken.mode = "up"
            stored = _wait_for(lambda: len(state.get_store().list_predictions("cancer")) >= 30)
            assert stored


def test_pii_columns_are_hashed_with_a_salt_and_dropped_without(kit, monkeypatch):
    kit.register_city_model()
    spec = parse_project("name: rent\ntask: binary\ntarget: y\npii: [city]\n")
    rows = [{"area": 50.0, "city": "lyon"}, {"area": 70.0, "city": "paris"}]
    for salt in ("pepper", None):
        if salt:
            monkeypatch.setenv("LOOPML_PII_SALT", salt)
        else:
            monkeypatch.delenv("LOOPML_PII_SALT", raising=False)
        app = create_app("rent@champion", ServeOptions(flush_interval_s=0.05), project=spec)
        with kit.running(app) as url:
            ids = httpx.post(f"{url}/predict", json={"instances": rows}).json()["prediction_ids"]
            store = state.get_store()
            _wait_for(lambda store=store, ids=ids: all(_exists(store, i) for i in ids))
            events = [store.get_prediction(i) for i in ids]
        for event, row in zip(events, rows, strict=True):
            assert event.inputs["area"] == row["area"]
            if salt:
                assert event.inputs["city"] not in ("lyon", "paris")
                assert len(event.inputs["city"]) == 16
            else:
                assert "city" not in event.inputs
        if salt:
            assert events[0].inputs["city"] != events[1].inputs["city"]


def _exists(store, prediction_id: str) -> bool:
    from loopml.errors import NotFound

    try:
        store.get_prediction(prediction_id)
        return True
    except NotFound:
        return False


@pytest.mark.slow
def test_a_killed_server_loses_at_most_the_last_second(kit, serving_store, tmp_path: Path):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    port = free_port()
    env = {**os.environ, "LOOPML_STORE": serving_store,
           "LOOPML_ARTIFACTS": str(tmp_path / "artifacts")}
    server = subprocess.Popen(
        [sys.executable, "-m", "loopml.cli.main", "serve", "cancer@champion", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert kit.wait_ready(url), server.stdout.read1().decode()
        ids = []
        with httpx.Client() as client:
            for i in range(40):
                body = {"instances": X.iloc[[i]].to_dict("records")}
                ids += client.post(f"{url}/predict", json=body).json()["prediction_ids"]
        time.sleep(1.0)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
    store = state.get_store()
    stored = {e.prediction_id for e in store.list_predictions("cancer")}
    assert stored == set(ids)

