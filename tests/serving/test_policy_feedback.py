"""Low-confidence policy (abstain, fallback, review), the review queue, and feedback."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.project import parse_project
from loopml.serving.app import create_app
from loopml.serving.options import ServeOptions
from loopml.tracking import state

SPEC = "name: cancer\ntask: binary\ntarget: y\nserving:\n  confidence_threshold: 0.99\n"


def _split_rows(model, X):
    """Some rows the model is sure about and some it is not (threshold 0.99)."""
    confidence = model.predict_proba(X).max(axis=1)
    sure = X[confidence >= 0.99].head(3)
    unsure = X[confidence < 0.99].head(3)
    assert len(sure) == 3 and len(unsure) == 3
    return sure, unsure


def _post(url, frame):
    return httpx.post(f"{url}/predict", json={"instances": frame.to_dict("records")}).json()


def test_abstain_answers_without_a_label(kit):
    model = kit.register_classifier()
    X, _ = kit.breast_cancer()
    sure, unsure = _split_rows(model, X)
    spec = parse_project(SPEC + "  below_threshold: abstain\n")
    with kit.running(create_app("cancer@champion", project=spec)) as url:
        body = _post(url, unsure)
        assert body["status"] == ["abstained"] * 3
        assert body["predictions"] == [None] * 3
        body = _post(url, sure)
        assert body["status"] == ["ok"] * 3
        assert body["predictions"] == model.predict(sure).tolist()


def test_fallback_model_answers_low_confidence_rows(kit):
    model = kit.register_classifier()
    X, y = kit.breast_cancer()
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    mv = loopml.register_model(tree, "cancer-rules", input_example=X.head(20), training_data=X)
    loopml.set_alias("cancer-rules", "baseline", mv.version)
    sure, unsure = _split_rows(model, X)
    spec = parse_project(
        SPEC + "  below_threshold: fallback\n  fallback_model: cancer-rules@baseline\n"
    )
    with kit.running(create_app("cancer@champion", project=spec)) as url:
        mixed = pd.concat([unsure.iloc[:2], sure.iloc[:1]])
        body = _post(url, mixed)
    assert body["status"] == ["fallback", "fallback", "ok"]
    assert body["predictions"][:2] == tree.predict(unsure.iloc[:2]).tolist()
    assert body["predictions"][2] == model.predict(sure.iloc[:1]).tolist()[0]
    np.testing.assert_allclose(body["probabilities"][0], tree.predict_proba(unsure.iloc[:1])[0])


def test_review_queue_lists_unsure_rows_until_feedback_resolves_them(kit):
    model = kit.register_classifier()
    X, y = kit.breast_cancer()
    sure, unsure = _split_rows(model, X)
    spec = parse_project(SPEC + "  below_threshold: review\n")
    app = create_app("cancer@champion", ServeOptions(flush_interval_s=0.05), project=spec)
    with kit.running(app) as url:
        body = _post(url, pd.concat([unsure, sure]))
        assert body["status"] == ["review"] * 3 + ["ok"] * 3
        assert body["predictions"] == model.predict(pd.concat([unsure, sure])).tolist()
        review_ids = body["prediction_ids"][:3]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            queue = httpx.get(f"{url}/review").json()
            if queue["count"] == 3:
                break
            time.sleep(0.05)
        assert [item["prediction_id"] for item in queue["items"]] == sorted(
            review_ids, key=[i["prediction_id"] for i in queue["items"]].index
        )
        assert {item["prediction_id"] for item in queue["items"]} == set(review_ids)
        assert all(item["confidence"] < 0.99 for item in queue["items"])
        r = httpx.post(f"{url}/feedback", json={"prediction_id": review_ids[0],
                                                 "label": int(y[unsure.index[0]])})
        assert r.status_code == 201 and r.json()["kind"] == "label"
        r = httpx.post(f"{url}/feedback", json={"prediction_id": review_ids[1],
                                                 "suggestion": 1, "source": "dr-house",
                                                 "comment": "looks benign to me"})
        assert r.status_code == 201 and r.json()["kind"] == "suggestion"
        left = httpx.get(f"{url}/review").json()
        assert [i["prediction_id"] for i in left["items"]] == [review_ids[2]]
    stored = state.get_store().list_feedback("cancer")
    assert [(f.prediction_id, f.kind, f.source) for f in stored] == [
        (review_ids[0], "label", None), (review_ids[1], "suggestion", "dr-house")
    ]


def test_feedback_bad_input_and_unknown_ids(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    with kit.running(create_app("cancer@champion", ServeOptions(flush_interval_s=0.05))) as url:
        pid = _post(url, X.head(1))["prediction_ids"][0]
        unknown = httpx.post(f"{url}/feedback", json={"prediction_id": "a" * 32, "label": 1})
        assert unknown.status_code == 404 and "a" * 32 in unknown.json()["error"]
        cases = [
            ({"label": 1}, "prediction_id"),
            ({"prediction_id": "short", "label": 1}, "prediction_id"),
            ({"prediction_id": pid}, "label"),
            ({"prediction_id": pid, "label": 1, "suggestion": 0}, "label"),
            ({"prediction_id": pid, "label": [1, 2]}, "label"),
            ({"prediction_id": pid, "label": 1, "source": ""}, "source"),
            ({"prediction_id": pid, "label": 1, "colour": "red"}, "colour"),
        ]
        for body, field in cases:
            r = httpx.post(f"{url}/feedback", json=body)
            assert r.status_code == 422, body
            assert field in {p["field"] for p in r.json()["detail"]}, body
        assert httpx.get(f"{url}/review?limit=0").status_code == 422
        # the store holds none of the refused feedback
        assert state.get_store().list_feedback("cancer") == []


@pytest.mark.parametrize("spec_text", [SPEC + "  below_threshold: fallback\n"])
def test_fallback_without_a_model_is_refused_by_the_spec(spec_text):
    from loopml.errors import InvalidInput

    with pytest.raises(InvalidInput, match="fallback_model"):
        parse_project(spec_text)


def test_feedback_right_after_the_prediction_is_accepted(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    slow_log = ServeOptions(flush_interval_s=30)  # the prediction is still in the buffer
    with kit.running(create_app("cancer@champion", slow_log)) as url:
        pid = _post(url, X.head(1))["prediction_ids"][0]
        r = httpx.post(f"{url}/feedback", json={"prediction_id": pid, "label": 0})
        assert r.status_code == 201
    assert [f.prediction_id for f in state.get_store().list_feedback("cancer")] == [pid]
