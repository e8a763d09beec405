"""Hot reload when the alias moves; shadow and canary challengers; /metrics per version."""

from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

import loopml
from loopml.serving.app import create_app
from loopml.serving.options import ServeOptions
from loopml.tracking import state


def _samples(url: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _value(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples.get(name, []) if labels.items() <= s.labels.items())


def test_alias_move_is_picked_up_without_failing_a_request(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    body = {"instances": X.head(2).to_dict("records")}
    options = ServeOptions(reload_interval_s=0.2)
    with kit.running(create_app("cancer@champion", options)) as url:
        results: list[tuple[int, int | None]] = []
        stop = threading.Event()

        def hammer():
            with httpx.Client() as client:
                while not stop.is_set():
                    r = client.post(f"{url}/predict", json=body, timeout=10)
                    results.append((r.status_code, r.json().get("version")))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        kit.register_classifier(C=0.001, alias="staging")  # version 2
        loopml.set_alias("cancer", "champion", 2)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not results or results[-1][1] != 2):
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert {code for code, _ in results} == {200}
        versions = [v for _, v in results]
        assert versions[0] == 1 and versions[-1] == 2
        first_two = versions.index(2)
        assert set(versions[first_two + 8:]) == {2}  # once switched, stays switched
        meta = httpx.get(f"{url}/v2/models/cancer").json()
        assert meta["versions"] == ["2"]
        samples = _samples(url)
        assert _value(samples, "loopml_model_version", role="champion") == 2
        assert _value(samples, "loopml_model_reloads_total", outcome="ok") == 1


def test_shadow_challenger_is_logged_not_returned(kit):
    kit.register_classifier()
    kit.register_classifier(C=0.001, alias="challenger")
    X, _ = kit.breast_cancer()
    options = ServeOptions(challenger="challenger", challenger_mode="shadow",
                           flush_interval_s=0.05)
    with kit.running(create_app("cancer@champion", options)) as url:
        answers = [
            httpx.post(f"{url}/predict",
                       json={"instances": X.iloc[[i]].to_dict("records")}).json()
            for i in range(10)
        ]
        assert {a["version"] for a in answers} == {1}
        store = state.get_store()
        deadline = time.monotonic() + 10
        shadows = []
        while time.monotonic() < deadline and len(shadows) < 10:
            shadows = store.list_predictions("cancer", shadow=True)
            time.sleep(0.05)
        samples = _samples(url)
    assert len(shadows) == 10 and {e.version for e in shadows} == {2}
    champion_ids = {a["prediction_ids"][0] for a in answers}
    assert {e.outputs["champion_prediction_id"] for e in shadows} == champion_ids
    assert len(store.list_predictions("cancer")) == 10  # shadow rows are not in the default view
    assert _value(samples, "loopml_predictions_total", version="2", role="shadow") == 10
    assert _value(samples, "loopml_predictions_total", version="1", role="champion") == 10


def test_canary_answers_a_share_of_requests(kit):
    kit.register_classifier()
    kit.register_classifier(C=0.001, alias="challenger")
    X, _ = kit.breast_cancer()
    options = ServeOptions(challenger="challenger", challenger_mode="canary", canary_share=0.3)
    with kit.running(create_app("cancer@champion", options)) as url:
        versions = [
            httpx.post(f"{url}/predict",
                       json={"instances": X.iloc[[i % 50]].to_dict("records")}).json()["version"]
            for i in range(200)
        ]
        samples = _samples(url)
    share = versions.count(2) / len(versions)
    assert 0.15 < share < 0.45
    assert _value(samples, "loopml_predictions_total", version="2", role="challenger") == \
        versions.count(2)


def test_metrics_cover_requests_errors_latency_batches_bytes_and_process(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    with kit.running(create_app("cancer@champion")) as url:
        good = {"instances": X.head(3).to_dict("records")}
        for _ in range(5):
            httpx.post(f"{url}/predict", json=good)
        httpx.post(f"{url}/predict", json={"instances": [{"x": 1}]})
        httpx.post(f"{url}/predict", content=b"nope")
        samples = _samples(url)
    assert _value(samples, "loopml_requests_total", endpoint="/predict", code="200") == 5
    assert _value(samples, "loopml_requests_total", endpoint="/predict", code="422") == 1
    assert _value(samples, "loopml_errors_total", code="400") == 1
    assert _value(samples, "loopml_errors_total", code="422") == 1
    assert _value(samples, "loopml_request_latency_seconds_count", endpoint="/predict") == 7
    assert _value(samples, "loopml_batch_rows_sum") == 15
    assert _value(samples, "loopml_predictions_total", version="1", status="ok") == 15
    assert _value(samples, "loopml_bytes_received_total") > 5 * len(orjson.dumps(good))
    assert _value(samples, "loopml_bytes_sent_total") > 0
    assert _value(samples, "process_resident_memory_bytes") > 10_000_000
    assert _value(samples, "process_cpu_seconds_total") > 0


@pytest.mark.parametrize("bad", ["nope@", "cancer@missing"])
def test_a_bad_challenger_is_refused_at_start(kit, bad):
    from loopml.errors import LoopmlError

    kit.register_classifier()
    with pytest.raises(LoopmlError):
        create_app("cancer@champion", ServeOptions(challenger=bad))
