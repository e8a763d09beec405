"""Open Inference Protocol v2, called with the real tritonclient[http] client."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from loopml.serving.app import create_app


@pytest.fixture
def v2(kit):
    model = kit.register_classifier()
    X, _ = kit.breast_cancer()
    with kit.running(create_app("cancer@champion")) as url:
        yield triton.InferenceServerClient(url.removeprefix("http://")), url, model, X


def test_health_and_metadata_show_the_version_served(v2):
    client, _url, _model, X = v2
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("cancer")
    meta = client.get_model_metadata("cancer")
    assert meta["name"] == "cancer" and meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == list(X.columns)
    assert {o["name"] for o in meta["outputs"]} >= {"predict", "predict_proba"}
    assert client.get_server_metadata()["name"] == "loopml"


@pytest.mark.parametrize("binary", [True, False])
def test_one_matrix_tensor_binary_and_json(v2, binary):
    client, _url, model, X = v2
    rows = X.iloc[10:17]
    tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows.to_numpy(), binary_data=binary)
    outputs = [triton.InferRequestedOutput(n, binary_data=binary)
               for n in ("predict", "predict_proba", "status")]
    result = client.infer("cancer", [tensor], outputs=outputs, request_id="r-1")
    np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(rows))
    np.testing.assert_allclose(result.as_numpy("predict_proba"), model.predict_proba(rows))
    status = result.as_numpy("status")
    assert [s.decode() if isinstance(s, bytes) else s for s in status] == ["ok"] * 7
    response = result.get_response()
    assert response["model_name"] == "cancer" and response["model_version"] == "1"
    assert response["id"] == "r-1"


def test_one_tensor_per_column_with_default_outputs(v2):
    client, _url, model, X = v2
    rows = X.iloc[:3]
    inputs = []
    for column in X.columns:
        tensor = triton.InferInput(column, [3, 1], "FP64")
        tensor.set_data_from_numpy(rows[[column]].to_numpy())
        inputs.append(tensor)
    result = client.infer("cancer", inputs)  # no outputs named: all, in binary
    np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(rows))
    ids = result.as_numpy("prediction_id")
    assert len({i.decode() for i in ids}) == 3


def test_bad_tensors_are_errors_the_client_can_read(v2):
    client, url, _model, X = v2
    wrong = triton.InferInput("input-0", [2, 5], "FP64")
    wrong.set_data_from_numpy(np.zeros((2, 5)))
    with pytest.raises(InferenceServerException, match="tensor"):
        client.infer("cancer", [wrong])
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("other")
    with pytest.raises(InferenceServerException, match="version 9"):
        client.get_model_metadata("cancer", model_version="9")
    nan = X.iloc[:2].to_numpy().copy()
    nan[1, 3] = np.nan
    tensor = triton.InferInput("input-0", list(nan.shape), "FP64")
    tensor.set_data_from_numpy(nan)
    with pytest.raises(InferenceServerException, match="signature"):
        client.infer("cancer", [tensor])
    r = httpx.post(f"{url}/v2/models/cancer/infer", json={"inputs": [{"name": "x"}]})
    assert r.status_code == 400 and "shape" in r.json()["error"]
    r = httpx.post(f"{url}/v2/models/cancer/infer",
                   json={"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64",
                                     "data": [1.0] * 29}]})
    assert r.status_code == 400 and "fill shape" in r.json()["error"]
    r = httpx.post(f"{url}/v2/models/cancer/infer", json={"inputs": "x"})
    assert r.status_code == 400
