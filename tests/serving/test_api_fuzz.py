"""Schemathesis fuzzes every operation of the OpenAPI schema: never a 5xx, and the worker
keeps answering good requests afterwards."""

from __future__ import annotations

import collections

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from loopml.serving.app import create_app


@pytest.mark.slow
def test_no_operation_answers_5xx_to_generated_requests(kit):
    kit.register_classifier()
    X, _ = kit.breast_cancer()
    seen: collections.Counter = collections.Counter()
    with kit.running(create_app("cancer@champion")) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        paths = {op.path for op in operations}
        assert {"/predict", "/feedback", "/v2/models/{name}/infer"} <= paths
        for operation in operations:
            _fuzz(operation, url, seen)
        good = httpx.post(f"{url}/predict", json={"instances": X.head(2).to_dict("records")})
    assert good.status_code == 200
    assert seen[4] > 100  # the generated requests did reach the validation paths


def _fuzz(operation, url: str, seen: collections.Counter) -> None:
    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def call(case):
        response = case.call(base_url=url)
        seen[response.status_code // 100] += 1
        assert response.status_code < 500, (operation.path, response.text[:300])

    call()
