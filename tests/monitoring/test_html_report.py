"""The HTML report is one file that opens offline, draws every column and never runs
user data as markup."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from loopml.data.profile import profile_frame
from loopml.monitoring.drift import drift_report
from loopml.monitoring.html_report import render_drift_html

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    n = 2000
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["paris", "lyon", EVIL], n),
            EVIL: rng.normal(size=n),
            "empty": np.full(n, np.nan),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(48, 10, n),
            "city": rng.choice(["paris", "lyon", EVIL], n, p=[0.6, 0.3, 0.1]),
            EVIL: rng.normal(size=n),
            "empty": np.full(n, np.nan),
        }
    )
    return reference, current


@pytest.fixture(scope="module")
def page(data) -> str:
    return drift_report(*data).to_html()


def figures(html: str) -> list:
    found = re.search(r'<script id="figures" type="application/json">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def test_page_is_self_contained_with_plotly_inlined_once(page):
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I)  # nothing fetched
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?://", page, re.I)
    bundle = get_plotlyjs()
    assert page.count(bundle[:2000]) == 1
    assert len(page) > len(bundle)


def test_one_plot_per_column_in_report_order(data, page):
    report = drift_report(*data)
    ids = re.findall(r'<div class="plot" id="(plot-\d+)"', page)
    assert ids == [f"plot-{i}" for i in range(1, len(report.columns) + 1)]
    drawn = figures(page)
    assert len(drawn) == len(report.columns)
    age, city, _, empty = drawn
    assert [t["name"] for t in age["data"]] == ["reference", "current"]
    assert sum(age["data"][0]["y"]) == pytest.approx(1.0)
    assert age["layout"]["barmode"] == "overlay"
    assert city["layout"]["barmode"] == "group" and len(city["data"][0]["x"]) == 3
    assert empty is None  # all missing: nothing to draw, a message instead
    assert "No distribution to draw" in page


def test_user_text_is_escaped_everywhere(page):
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the table and headings show it
    payload = re.search(r'type="application/json">(.*?)</script>', page, re.S).group(1)
    assert "<" not in payload  # tojson escapes markup in the figure data
    drawn = figures(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn[1]["data"][0]["x"]  # plotly text
    assert drawn[2]["layout"]["xaxis"]["title"]["text"] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_summary_table_has_the_verdicts(data, page):
    table = re.search(r'<table id="summary">(.*?)</table>', page, re.S).group(1)
    for header in (
        "column",
        "kind",
        "test",
        "statistic",
        "threshold",
        "verdict",
        "p-value",
        "missing",
        "note",
    ):
        assert f"<th>{header}" in table
    assert table.count("<tr>") == 1 + 4
    assert "wasserstein" in table and "jensenshannon" in table and "not tested" in table
    assert "badge drift" in table and "100.0% → 100.0%" in table
    assert "Dataset drift" in page or "No dataset drift" in page


def test_to_html_writes_the_same_page(data, tmp_path):
    report = drift_report(*data)
    path = tmp_path / "drift.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page == render_drift_html(report)


def test_profile_reference_draws_the_profile_bins(data):
    reference, current = data
    report = drift_report(profile_frame(reference), current)
    page = report.to_html()
    age = figures(page)[0]
    assert len(age["data"][0]["x"]) == len(report["age"].bins) - 1 == 10
    assert "stored profile" in page
