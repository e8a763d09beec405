"""The HTML report opened in a real headless Chromium, offline: every chart is drawn."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from loopml.monitoring.drift import drift_report


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail("chromium is required in CI (apt-get install chromium) and is missing")
    pytest.skip("chromium is not installed")


def test_drift_report_draws_one_chart_per_column_offline(tmp_path):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"age": rng.normal(40, 10, 2000),
                              "plan": rng.choice(["free", "pro"], 2000),
                              "<b>odd name</b>": rng.normal(size=2000)})
    current = reference.assign(age=reference["age"] + 8)
    page = tmp_path / "drift.html"
    drift_report(reference, current).to_html(page)
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"},
    ).stdout
    plots = re.findall(r'<div class="plot[^"]*" id="plot-\d+"', dom)
    drawn = re.findall(r'id="plot-\d+"[^>]*>(?:(?!id="plot-).)*?class="main-svg"', dom, re.S)
    assert len(plots) == 3
    assert len(drawn) == 3  # plotly ran from the inlined bundle, no network
    assert "<b>odd name</b>" not in dom  # user data stays text
