"""The demo's second half: serve the champion, send live traffic, give feedback, monitor it."""

from __future__ import annotations

import time
from typing import Any

from loopml.cli.output import console, print_table

SHIFTED = ["mean radius", "mean perimeter", "worst radius", "worst area"]


def serving_tour(name: str, spec: Any, X_live: Any, y_live: Any) -> None:
    """A real HTTP service in this process: predictions, a 422, an explanation, feedback,
    then `monitor` over the prediction log, with the HTML report written next to the store."""
    import httpx
    import numpy as np

    from loopml.config import home
    from loopml.monitoring.monitor import monitor
    from loopml.serving.app import create_app
    from loopml.serving.local import serve_in_thread
    from loopml.serving.options import ServeOptions

    live = X_live.copy()
    drifted = live.copy()
    for column in SHIFTED:  # a sensor recalibrated: these columns now read 40% high
        drifted[column] = drifted[column] * 1.4
    options = ServeOptions(flush_interval_s=0.1, stats_interval_s=0.5)
    app = create_app(f"{name}@champion", options, project=spec)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        started = time.perf_counter()
        ids: list[str] = []
        statuses: list[str] = []
        for frame in (live, drifted):
            for start in range(0, len(frame), 4):
                rows = frame.iloc[start : start + 4].to_dict("records")
                body = client.post("/predict", json={"instances": rows}).json()
                ids += body["prediction_ids"]
                statuses += body["status"]
        elapsed = time.perf_counter() - started
        console.print(
            f"[bold]serve {name}@champion[/] at {url}: {len(ids)} predictions in "
            f"{elapsed:.1f} s over HTTP; {statuses.count('review')} below the confidence "
            "threshold went to the review queue"
        )
        bad = dict(live.iloc[0].to_dict(), **{"mean radius": "wide"})
        refused = client.post("/predict", json={"instances": [bad]})
        console.print(f"a bad request is refused with {refused.status_code}: "
                      f"{refused.json()['detail'][0]}")
        explained = client.post("/explain", json={"instances": [live.iloc[0].to_dict()]}).json()
        top = sorted(explained["contributions"][0].items(), key=lambda kv: -abs(kv[1]))[:3]
        console.print(
            f"explain ({explained['method']}): baseline {explained['baseline']:.3f}, top "
            + ", ".join(f"{k} {v:+.3f}" for k, v in top)
        )
        labels = np.concatenate([y_live.to_numpy(), y_live.to_numpy()])
        for pid, label in list(zip(ids, labels, strict=True))[: len(ids) // 2]:
            client.post("/feedback", json={"prediction_id": pid, "label": int(label)})
        console.print(f"feedback: {len(ids) // 2} true labels sent back")
    report = monitor(f"{name}@champion", project=spec, window="1h")
    drift = report.drift
    assert drift is not None
    rows = [
        (c.name, c.test, c.statistic, "DRIFT" if c.drifted else "ok")
        for c in drift.columns.values()
        if c.drifted or c.name in SHIFTED
    ]
    print_table(f"monitor {name}@champion: drift over the last hour", ["column", "test",
                "statistic", "verdict"], rows)
    estimate = report.estimated.get("accuracy")
    if estimate:
        console.print(
            f"accuracy estimated from confidence: {estimate['value']:.3f} "
            f"[{estimate['lower']:.3f}, {estimate['upper']:.3f}]; realized on labels: "
            + ", ".join(f"{v:.3f}" for v in report.performance["accuracy"].dropna())
        )
    for finding in report.firing:
        console.print(f"[red]alert[/] {finding.rule}: {finding.message}")
    page = home() / "demo-monitoring.html"
    report.to_html(str(page))
    console.print(f"monitoring report (one self-contained page): {page}")
