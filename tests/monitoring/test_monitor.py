"""`monitor()` and `loopml monitor` over a real prediction log written by a real service."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.monitoring.monitor import monitor
from loopml.project import parse_project
from loopml.serving.app import create_app
from loopml.serving.local import serve_in_thread
from loopml.serving.options import ServeOptions
from loopml.tracking import state

SHIFTED = ["mean_radius", "mean_texture", "worst_area"]


@pytest.fixture(autouse=True)
def monitoring_store(configured_store: str) -> str:
    return configured_store


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            length = int(self.headers["content-length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train = frame.sample(frac=0.6, random_state=0)
    live = frame.drop(train.index)
    return train, live


def _register(train: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = train.drop(columns="target")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(X, train["target"])
    mv = loopml.register_model(
        model, "cancer", input_example=X.head(30), training_data=train, target="target"
    )
    loopml.set_alias("cancer", "champion", mv.version)
    return model


def _serve_traffic(live: pd.DataFrame, *, shift: bool, label_share: float) -> list[str]:
    rows = live.drop(columns="target").copy()
    if shift:
        for column in SHIFTED:
            rows[column] = rows[column] * 1.6
    options = ServeOptions(flush_interval_s=0.05, stats_interval_s=0.2)
    ids: list[str] = []
    with serve_in_thread(create_app("cancer@champion", options)) as url, httpx.Client() as c:
        for start in range(0, len(rows), 5):
            chunk = rows.iloc[start : start + 5]
            body = c.post(f"{url}/predict", json={"instances": chunk.to_dict("records")}).json()
            ids += body["prediction_ids"]
        c.post(f"{url}/predict", json={"instances": [{"wrong": 1}]})  # one 422 for the stats
        labelled = np.random.default_rng(0).permutation(len(ids))[: int(len(ids) * label_share)]
        for i in labelled:
            pid, label = ids[i], live["target"].iloc[i]
            assert (
                c.post(
                    f"{url}/feedback", json={"prediction_id": pid, "label": int(label)}
                ).status_code
                == 201
            )
    return ids


SPEC = """name: cancer
task: binary
target: target
objectives:
  accuracy: ">= 0.9"
monitoring:
  window: 1h
  share_drifted_columns: 0.08
  alert_webhook: {hook}
"""


def test_monitor_finds_the_shifted_columns_and_opens_one_alert(webhook):
    url, received = webhook
    train, live = _data()
    _register(train)
    _serve_traffic(live, shift=True, label_share=0.5)
    spec = parse_project(SPEC.format(hook=url))
    report = monitor("cancer@champion", project=spec)
    assert report.n_predictions == len(live)
    assert report.n_labels == len(live) // 2
    drifted = set(report.drift.drifted_columns)
    assert set(SHIFTED) <= drifted
    assert "loopml.prediction" in report.drift.columns
    assert "target" in report.drift.columns  # label drift, once labels arrived
    assert not report.drift.columns["target"].drifted  # the labels follow the reference
    # realized performance with a confidence interval, and the estimate before labels
    perf = report.performance
    assert perf["n_labels"].sum() == len(live) // 2
    assert {"accuracy", "accuracy_lower", "accuracy_upper"} <= set(perf.columns)
    estimate = report.estimated["accuracy"]
    assert 0 <= estimate["lower"] <= estimate["value"] <= estimate["upper"] <= 1
    # what the service counted: requests, one 422, latency
    assert report.platform["requests"] >= len(live) // 5
    assert report.platform["errors_by_code"].get("422") == 1
    assert report.platform["p99_ms"] > 0
    assert report.quality["columns"]["mean_radius"]["out_of_range_rate"] > 0
    rejected = report.quality["service"]["rejected"]  # the services counted the bad request
    assert rejected["(other)"] == 1 and rejected["mean_radius"] == 1  # unknown names pooled
    firing = {f.rule: f for f in report.alerts if f.state == "firing"}
    assert "drift" in firing and set(SHIFTED) <= set(firing["drift"].evidence["columns"])
    assert firing["drift"].change == "opened"
    opened = [r for r in received if r["event"] == "alert_opened"]
    assert {r["rule"] for r in opened} == set(firing)
    # a second look while the drift lasts updates the open alert instead of a new one
    again = monitor("cancer@champion", project=spec)
    assert {f.rule: f.change for f in again.alerts if f.state == "firing"}["drift"] == "updated"
    assert len([r for r in received if r["event"] == "alert_opened"]) == len(opened)
    stored = state.get_store().list_alerts("cancer", status="open")
    assert [a.count for a in stored if a.rule == "drift"] == [2]


def test_clean_traffic_resolves_the_alert(webhook):
    url, received = webhook
    train, live = _data()
    _register(train)
    spec = parse_project(SPEC.format(hook=url))
    _serve_traffic(live, shift=True, label_share=0.0)
    first = monitor("cancer@champion", project=spec, last=len(live))
    assert "drift" in {f.rule for f in first.alerts if f.state == "firing"}
    _serve_traffic(live, shift=False, label_share=0.0)
    second = monitor("cancer@champion", project=spec, last=len(live))
    drift = next(f for f in second.alerts if f.rule == "drift")
    assert drift.state == "clear" and drift.change == "resolved"
    opened = {r["rule"] for r in received if r["event"] == "alert_opened"}
    resolved = [r["rule"] for r in received if r["event"] == "alert_resolved"]
    assert "drift" in resolved and set(resolved) <= opened and len(resolved) == len(set(resolved))


def test_monitor_command_writes_a_self_contained_html_and_json(tmp_path):
    train, live = _data()
    _register(train)
    _serve_traffic(live, shift=True, label_share=0.3)
    page = tmp_path / "report.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loopml.cli.main",
            "--store",
            state.store_uri(),
            "--artifacts",
            state.artifact_uri(),
            "monitor",
            "cancer@champion",
            "--window",
            "1h",
            "--html",
            str(page),
            "--json",
            "--no-alerts",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["n_predictions"] == len(live)
    assert set(SHIFTED) <= {c for c, v in body["drift"]["columns"].items() if v["drifted"]}
    html = page.read_text()
    assert "Plotly.newPlot" in html and "<script src=" not in html
    assert "mean_radius" in html and "requests per second" in html
    assert state.get_store().list_alerts("cancer") == []  # --no-alerts stored nothing


def test_monitor_bad_input_and_empty_log():
    from loopml.errors import InvalidInput, NotFound

    train, _ = _data()
    _register(train)
    with pytest.raises(NotFound):
        monitor("nothing@champion")
    with pytest.raises(InvalidInput, match="window"):
        monitor("cancer@champion", window="yesterday")
    with pytest.raises(InvalidInput, match="not both"):
        monitor("cancer@champion", window="1h", last=10)
    empty = monitor("cancer@champion", window="1h")
    assert empty.n_predictions == 0 and empty.drift is None
    assert "no predictions" in empty.drift_note
    assert all(f.state == "not evaluated" for f in empty.alerts)
    json.loads(empty.to_json())
    assert np.isfinite(len(empty.to_html()))


def test_the_scheduler_evaluates_alerts_on_a_cadence(tmp_path):
    from loopml.pipelines.schedules import Scheduler

    train, live = _data()
    _register(train)
    _serve_traffic(live, shift=True, label_share=0.0)
    (tmp_path / "loopml.yaml").write_text(
        "name: cancer\ntask: binary\ntarget: target\nmonitoring:\n  window: 1h\n"
        "  share_drifted_columns: 0.08\n  schedule: '*/5 * * * *'\n"
    )
    cli = [sys.executable, "-m", "loopml.cli.main", "--store", state.store_uri(),
           "--artifacts", state.artifact_uri(), "schedule", "add"]
    both = subprocess.run([*cli, "x", "--monitor", "cancer@champion", "--pipeline", "p.py:t"],
                          capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "exactly one" in both.stderr
    added = subprocess.run([*cli, "watch-cancer", "--monitor", "cancer@champion"],
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    schedule = state.get_store().get_schedule("watch-cancer")
    assert schedule.cron == "*/5 * * * *"
    scheduler = Scheduler(clock=lambda: schedule.next_run_time + 1)
    scheduler.started_at = 0
    [result] = scheduler.run_pending()
    assert result.status == "FINISHED", result.error
    assert "drift" in {a.rule for a in state.get_store().list_alerts("cancer", status="open")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing@champion"], "nothing"),
        (["cancer@champion", "--window", "soon"], "window"),
        (["cancer@champion", "--window", "1h", "--last", "5"], "not both"),
        (["cancer@champion", "--last", "0"], "--last"),
    ],
)
def test_monitor_command_bad_arguments(args, message):
    train, _ = _data()
    _register(train)
    done = subprocess.run(
        [sys.executable, "-m", "loopml.cli.main", "--store", state.store_uri(), "--artifacts",
         state.artifact_uri(), "monitor", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
