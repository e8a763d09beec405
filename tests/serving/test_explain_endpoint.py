"""POST /explain: per-feature contributions that add up to the model's output."""

from __future__ import annotations

import httpx
import numpy as np

from loopml.serving.app import create_app


def test_explain_returns_contributions_that_add_up(kit):
    model = kit.register_classifier()
    X, _ = kit.breast_cancer()
    rows = X.iloc[[3, 40]]
    with kit.running(create_app("cancer@champion")) as url:
        body = httpx.post(f"{url}/explain", json={"instances": rows.to_dict("records")}).json()
        bad = httpx.post(f"{url}/explain", json={"instances": [{"mean_radius": "x"}]})
    assert body["model"] == "cancer" and body["version"] == 1
    assert body["method"] == "linear" and body["exact"] is True
    assert body["features"] == list(X.columns)
    decision = model.decision_function(rows)
    for contributions, expected in zip(body["contributions"], decision, strict=True):
        assert set(contributions) == set(X.columns)
        total = body["baseline"] + sum(contributions.values())
        np.testing.assert_allclose(total, expected, rtol=1e-9)
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["detail"]} >= {"mean_texture"}
