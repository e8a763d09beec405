"""How a failed prediction request is answered, the same on /predict and v2 /infer."""

from __future__ import annotations

from starlette.responses import Response

from loopml.serving.batcher import Overloaded
from loopml.serving.http import error_response, json_response
from loopml.serving.metrics import ServiceMetrics
from loopml.serving.payloads import PayloadError
from loopml.serving.service import RowsRejected

PREDICTION_FAILURES = (PayloadError, RowsRejected, Overloaded)


def failure_response(exc: Exception, metrics: ServiceMetrics) -> Response:
    """400/413/422 for bad input (counted toward data quality), 503 + Retry-After when shed."""
    if isinstance(exc, PayloadError):
        if exc.status == 422:  # schema violations count toward data quality
            metrics.count_quality(exc.detail, "rejected")
        return error_response(exc)
    if isinstance(exc, RowsRejected):
        return json_response(
            {"error": "the request does not match the model's signature", "detail": exc.detail},
            422,
        )
    if isinstance(exc, Overloaded):
        metrics.shed.inc()
        return json_response(
            {"error": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)}
        )
    raise exc
