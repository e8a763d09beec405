"""OpenAPI descriptions of the request bodies (the app reads bodies with orjson, not pydantic,
so FastAPI cannot infer these; they are written out for ``/docs``)."""

from __future__ import annotations

DESCRIPTION = (
    "Predictions from a registered loopml model. Bodies are validated against the model's "
    "signature: a bad request is answered 422 with one entry per instance and field, and never "
    "reaches the model. The Open Inference Protocol v2 routes are under /v2. With LOOPML_TOKEN "
    "set, every route but the health checks needs 'Authorization: Bearer <token>'."
)

_VALUE = {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"},
                    {"type": "null"}]}

PREDICT = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "title": "records",
                            "type": "object",
                            "required": ["instances"],
                            "properties": {
                                "instances": {
                                    "type": "array",
                                    "items": {"type": "object", "additionalProperties": _VALUE},
                                }
                            },
                        },
                        {
                            "title": "split",
                            "type": "object",
                            "required": ["columns", "data"],
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array",
                                                                     "items": _VALUE}},
                            },
                        },
                    ]
                },
                "example": {"instances": [{"feature_a": 1.5, "city": "Lyon"}]},
            }
        },
    },
    "responses": {
        "422": {"description": "The body does not match the signature (detail per instance)"},
        "413": {"description": "The body is over max_body_bytes"},
        "503": {"description": "Overloaded: retry after the Retry-After header's seconds"},
    },
}

FEEDBACK = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prediction_id"],
                    "properties": {
                        "prediction_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "label": {"description": "the true label", **_VALUE},
                        "suggestion": {"description": "a better answer a user suggests",
                                       **_VALUE},
                        "source": {"type": "string"},
                        "comment": {"type": "string"},
                    },
                },
                "example": {"prediction_id": "0" * 32, "label": 1},
            }
        },
    },
    "responses": {"404": {"description": "No prediction has that id"}},
}
