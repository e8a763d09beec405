"""The ASGI prediction app: ``create_app("churn@champion")`` -> a FastAPI app.

Routes (OpenAPI docs at ``/docs``): ``POST /predict``, ``POST /explain``, ``POST /feedback``,
``GET /review``, ``GET /metrics``, ``/healthz``, ``/readyz`` and the Open Inference Protocol v2
routes of :mod:`loopml.serving.v2`. Bodies are read and written with orjson, not pydantic: the
request path stays short; the schemas below are for the docs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import InvalidInput, NotFound
from loopml.serving import docs
from loopml.serving.failures import PREDICTION_FAILURES, failure_response
from loopml.serving.http import ServiceMiddleware, error_response, json_response, read_body
from loopml.serving.options import ServeOptions
from loopml.serving.payloads import PayloadError, load_json, parse_rows, problem
from loopml.serving.policy import ConfidencePolicy
from loopml.serving.service import Answer, PredictionService

log = logging.getLogger("loopml.serving")
JSON_ENDPOINTS = frozenset(
    {"/predict", "/explain", "/feedback", "/review", "/metrics", "/healthz", "/readyz"}
)


def create_app(
    model_uri: str,
    options: ServeOptions | None = None,
    *,
    project: Any = None,
) -> FastAPI:
    """Build the service for ``model_uri``; ``project`` is a ProjectSpec (serving policy, PII)."""
    options = options or ServeOptions()
    policy = pii = None
    if project is not None:
        policy = ConfidencePolicy.from_spec(project.serving)
        pii = list(project.pii)
    service = PredictionService(model_uri, options, policy=policy, pii=pii)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The models, pandas and scikit-learn leave ~200k long-lived objects; without this,
        # each full garbage collection walks them all (100-280 ms, every second or two under
        # load: the p99). Frozen, they are skipped (measured in bench/serving.py).
        gc.collect()
        gc.freeze()
        service.start()
        watcher = asyncio.create_task(service.watch_aliases())
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await service.close()

    app = FastAPI(
        title=f"loopml: {service.name}",
        description=docs.DESCRIPTION,
        version=str(service.champion.version),
        lifespan=lifespan,
    )
    app.state.service = service
    _json_routes(app, service, options)
    from loopml.serving.v2 import add_v2_routes

    add_v2_routes(app, service, options)
    token = options.token if options.token is not None else (os.environ.get("LOOPML_TOKEN") or None)
    app.add_middleware(
        ServiceMiddleware, metrics=service.metrics, token=token, endpoints=JSON_ENDPOINTS
    )
    return app


def _json_routes(app: FastAPI, service: PredictionService, options: ServeOptions) -> None:
    @app.post("/predict", openapi_extra=docs.PREDICT, tags=["predict"])
    async def predict(request: Request) -> Response:
        """Predict rows; low-confidence rows follow the policy of loopml.yaml."""
        try:
            payload = load_json(await read_body(request, options.max_body_bytes))
            columns = service.champion.columns
            parsed = parse_rows(payload, columns, max_rows=options.max_request_rows)
            if parsed.problems:
                raise PayloadError(422, "the request does not match the signature", parsed.problems)
            answer = await service.predict(parsed.rows)
        except PREDICTION_FAILURES as exc:
            return failure_response(exc, service.metrics)
        return json_response(predict_body(answer))

    @app.post("/explain", openapi_extra=docs.PREDICT, tags=["predict"])
    async def explain(request: Request) -> Response:
        """Per-feature contributions of each instance, with the baseline value."""
        try:
            payload = load_json(await read_body(request, options.max_body_bytes))
            served = service.champion
            parsed = parse_rows(payload, served.columns, max_rows=options.max_request_rows)
            if parsed.problems:
                raise PayloadError(422, "the request does not match the signature", parsed.problems)
            result = await asyncio.to_thread(service.explain, parsed.rows)
        except PREDICTION_FAILURES as exc:
            return failure_response(exc, service.metrics)
        return json_response(result)

    @app.post("/feedback", openapi_extra=docs.FEEDBACK, tags=["feedback"], status_code=201)
    async def feedback(request: Request) -> Response:
        """The true label of a prediction, or a user's suggested better answer."""
        try:
            payload = load_json(await read_body(request, options.max_body_bytes))
            record = await asyncio.to_thread(service.add_feedback, payload)
        except PayloadError as exc:
            return error_response(exc)
        except NotFound as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response(record, 201)

    @app.get("/review", tags=["feedback"])
    async def review(limit: int = 100) -> Response:
        """Predictions waiting for a human (status ``review``), oldest first."""
        if not 1 <= limit <= 10_000:
            return json_response(
                {"error": "limit must be 1..10000", "detail": [problem(None, "limit", str(limit))]},
                422,
            )
        items = await asyncio.to_thread(service.review_queue, limit)
        return json_response({"items": items, "count": len(items)})

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        """Prometheus text format."""
        if service.log is not None:
            service.metrics.log_pending.set(service.log.pending)
        return Response(
            service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        if not service.ready:
            return json_response({"status": "loading"}, 503)
        return json_response(
            {"status": "ready", "model": service.name, "version": service.champion.version}
        )


def predict_body(answer: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "predictions": answer.predictions,
        "prediction_ids": answer.prediction_ids,
        "model": answer.model,
        "version": answer.version,
        "status": answer.statuses,
    }
    if answer.probabilities is not None:
        body["probabilities"] = answer.probabilities
        body["classes"] = answer.classes
    if answer.warnings:
        body["warnings"] = answer.warnings
    return body


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` workers: ``loopml serve`` passes its settings in env."""
    import json

    from loopml.project import load_project

    uri = os.environ.get("LOOPML_SERVE_MODEL")
    if not uri:
        raise InvalidInput("LOOPML_SERVE_MODEL is not set (loopml serve sets it)")
    raw = json.loads(os.environ.get("LOOPML_SERVE_OPTIONS", "{}"))
    project_path = os.environ.get("LOOPML_SERVE_PROJECT")
    project = load_project(project_path) if project_path else None
    return create_app(uri, ServeOptions(**raw), project=project)
