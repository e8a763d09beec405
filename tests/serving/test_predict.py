"""POST /predict over a real uvicorn server: answers, validation (422), limits (413), auth."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loopml.serving.app import create_app
from loopml.serving.options import ServeOptions


@pytest.fixture
def cancer_url(kit):
    model = kit.register_classifier()
    with kit.running(create_app("cancer@champion", ServeOptions(flush_interval_s=0.1))) as url:
        yield url, model


def test_records_and_split_bodies_get_the_models_answers(cancer_url, kit):
    url, model = cancer_url
    X, _ = kit.breast_cancer()
    rows = X.iloc[[0, 5, 19, 100]]
    records = httpx.post(f"{url}/predict", json={"instances": rows.to_dict("records")}).json()
    split = httpx.post(
        f"{url}/predict", json={"columns": list(rows.columns)[::-1],
                                "data": rows[list(rows.columns)[::-1]].values.tolist()}
    ).json()
    expected = model.predict(rows).tolist()
    assert records["predictions"] == expected == split["predictions"]
    np.testing.assert_allclose(records["probabilities"], model.predict_proba(rows), rtol=1e-12)
    assert records["classes"] == [0, 1]
    assert records["model"] == "cancer" and records["version"] == 1
    assert records["status"] == ["ok"] * 4
    assert len(set(records["prediction_ids"])) == 4


def test_bad_rows_get_422_naming_instance_and_field_and_the_worker_keeps_serving(cancer_url, kit):
    url, _ = cancer_url
    X, _ = kit.breast_cancer()
    good = X.head(3).to_dict("records")
    bad = [dict(r) for r in good]
    bad[1]["mean_radius"] = "wide"
    bad[2]["mean_area"] = None
    r = httpx.post(f"{url}/predict", json={"instances": bad})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {"instance": 1, "field": "mean_radius"}.items() <= detail[0].items()
    assert "expected a number" in detail[0]["problem"]
    assert detail[1]["instance"] == 2 and detail[1]["field"] == "mean_area"
    assert "missing value" in detail[1]["problem"]
    # missing and extra columns, per instance
    shape = [dict(good[0]), dict(good[1])]
    del shape[0]["mean_texture"]
    shape[1]["colour"] = "red"
    problems = httpx.post(f"{url}/predict", json={"instances": shape}).json()["detail"]
    assert {(p["instance"], p["field"]) for p in problems} == {(0, "mean_texture"), (1, "colour")}
    for body in (b"{not json", b"[]", b'{"instances": []}', b'{"instances": 3}', b'{"rows": []}'):
        r = httpx.post(f"{url}/predict", content=body,
                       headers={"content-type": "application/json"})
        assert r.status_code in (400, 422), body
        assert r.json()["error"]
    # NaN travels in v2 tensors, not JSON; a string "NaN" is a wrong type
    nan = dict(good[0], mean_radius="NaN")
    assert httpx.post(f"{url}/predict", json={"instances": [nan]}).status_code == 422
    ok = httpx.post(f"{url}/predict", json={"instances": good})
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3


def test_body_and_batch_limits(kit):
    kit.register_classifier()
    options = ServeOptions(max_body_bytes=20_000, max_request_rows=5)
    X, _ = kit.breast_cancer()
    with kit.running(create_app("cancer@champion", options)) as url:
        big = httpx.post(f"{url}/predict", json={"instances": X.head(40).to_dict("records")})
        assert big.status_code == 413
        assert "20000" in big.json()["error"]
        many = httpx.post(f"{url}/predict", json={"instances": X.head(6).to_dict("records")})
        assert many.status_code == 422
        assert many.json()["detail"][0]["field"] == "instances"
        assert httpx.post(f"{url}/predict",
                          json={"instances": X.head(5).to_dict("records")}).status_code == 200


def test_unseen_categories_reject_or_flag(kit):
    kit.register_city_model()
    row = {"area": 50.0, "city": "marseille"}
    with kit.running(create_app("rent@champion")) as url:
        r = httpx.post(f"{url}/predict", json={"instances": [row]})
        assert r.status_code == 422
        assert r.json()["detail"][0]["field"] == "city"
        assert "unseen category" in r.json()["detail"][0]["problem"]
    with kit.running(create_app("rent@champion", ServeOptions(unseen_categories="flag"))) as url:
        r = httpx.post(f"{url}/predict", json={"instances": [{"area": 50.0, "city": "lyon"}, row]})
        assert r.status_code == 200
        body = r.json()
        assert len(body["predictions"]) == 2
        assert body["warnings"][0]["instance"] == 1 and body["warnings"][0]["field"] == "city"


def test_token_guards_every_endpoint_but_health(monkeypatch, kit):
    kit.register_classifier()
    monkeypatch.setenv("LOOPML_TOKEN", "s3cret")
    X, _ = kit.breast_cancer()
    body = {"instances": X.head(1).to_dict("records")}
    with kit.running(create_app("cancer@champion")) as url:
        for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"):
            assert httpx.get(url + path).status_code == 200, path
        for method, path in (("POST", "/predict"), ("GET", "/metrics"), ("GET", "/docs"),
                             ("GET", "/openapi.json"), ("GET", "/v2/models/cancer"),
                             ("GET", "/review"), ("POST", "/feedback")):
            r = httpx.request(method, url + path, json=body)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
        wrong = httpx.post(f"{url}/predict", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.post(f"{url}/predict", json=body,
                           headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200


def test_openapi_docs_describe_the_endpoints(cancer_url, kit):
    url, _ = cancer_url
    spec = httpx.get(f"{url}/openapi.json").json()
    for path in ("/predict", "/feedback", "/explain", "/v2/models/{name}/infer", "/metrics"):
        assert path in spec["paths"], path
    schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert {s["title"] for s in schema["schema"]["oneOf"]} == {"records", "split"}
    assert httpx.get(f"{url}/docs").status_code == 200


def test_unknown_model_is_a_clear_error(kit):
    from loopml.errors import NotFound

    with pytest.raises(NotFound):
        create_app("nothing@champion")


def test_bad_options_name_the_option(kit):
    from loopml.errors import InvalidInput

    for bad in ({"max_batch_rows": 0}, {"unseen_categories": "maybe"},
                {"challenger_mode": "both"}, {"canary_share": 1.5}, {"max_wait_ms": -1}):
        with pytest.raises(InvalidInput, match=next(iter(bad))):
            ServeOptions(**bad)
