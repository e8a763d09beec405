"""Open Inference Protocol v2 (KServe, Triton, MLServer): health, metadata and ``/infer``.

Inputs are accepted two ways: one tensor per signature column (shape ``[n]`` or ``[n, 1]``,
as MLServer's pandas codec sends them), or one ``[n, k]`` tensor holding the columns in
signature order. The binary tensor extension (``Inference-Header-Content-Length``) is
supported both ways, so ``tritonclient.http`` works with its defaults. Outputs: ``predict``,
``predict_proba`` (classifiers), ``status`` and ``prediction_id``; a request's ``outputs``
list picks among them. Rows go through the same batcher, validation and log as ``/predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

import loopml
from loopml.serving.failures import PREDICTION_FAILURES, failure_response
from loopml.serving.http import json_response, read_body
from loopml.serving.options import ServeOptions
from loopml.serving.payloads import PayloadError, problem
from loopml.serving.service import Answer, PredictionService

DTYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}
KIND_DATATYPE = {
    "numeric": "FP64", "integer": "INT64", "boolean": "BOOL",
    "categorical": "BYTES", "text": "BYTES", "datetime": "BYTES",
}
HEADER_LENGTH = "inference-header-content-length"


def add_v2_routes(app: FastAPI, service: PredictionService, options: ServeOptions) -> None:
    @app.get("/v2/health/live", tags=["v2"])
    async def live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready", tags=["v2"])
    async def ready() -> Response:
        return json_response({"ready": service.ready}, 200 if service.ready else 503)

    @app.get("/v2", tags=["v2"])
    async def server_metadata() -> Response:
        return json_response(
            {"name": "loopml", "version": loopml.__version__,
             "extensions": ["binary_tensor_data"]}
        )

    @app.get("/v2/models/{name}", tags=["v2"])
    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"])
    async def model_metadata(name: str, version: str | None = None) -> Response:
        missing = _unknown(service, name, version)
        return missing or json_response(metadata(service))

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["v2"])
    async def model_ready(name: str, version: str | None = None) -> Response:
        missing = _unknown(service, name, version)
        return missing or json_response({"name": name, "ready": service.ready})

    @app.post("/v2/models/{name}/infer", tags=["v2"])
    @app.post("/v2/models/{name}/versions/{version}/infer", tags=["v2"])
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        missing = _unknown(service, name, version)
        if missing:
            return missing
        try:
            body = await read_body(request, options.max_body_bytes)
            payload, binary = split_body(body, request.headers.get(HEADER_LENGTH))
            rows = tensors_to_rows(payload, binary, service, options.max_request_rows)
            answer = await service.predict(rows)
        except PREDICTION_FAILURES as exc:
            return failure_response(exc, service.metrics)
        return infer_response(payload, answer)


def _unknown(service: PredictionService, name: str, version: str | None) -> Response | None:
    if name != service.name:
        return json_response(
            {"error": f"unknown model {name!r}; this service serves {service.name!r}"}, 404
        )
    served = str(service.champion.version)
    if version is not None and version != served:
        return json_response(
            {"error": f"version {version} of {name!r} is not served; version {served} is"}, 404
        )
    return None


def metadata(service: PredictionService) -> dict[str, Any]:
    served = service.champion
    outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
    if served.classes is not None:
        outputs.append(
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(served.classes)]}
        )
    outputs += [
        {"name": "status", "datatype": "BYTES", "shape": [-1]},
        {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]},
    ]
    return {
        "name": served.name,
        "versions": [str(served.version)],
        "platform": f"loopml-{served.loaded.flavor}",
        "inputs": [
            {"name": c.name, "datatype": KIND_DATATYPE[c.kind], "shape": [-1, 1]}
            for c in served.signature.inputs
        ],
        "outputs": outputs,
        "parameters": {
            "uri": service.slots["champion"].uri,
            "classes": served.classes,
        },
    }


# -- requests -----------------------------------------------------------------------------
def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary tail of a request (binary tensor extension)."""
    if header_length is None:
        json_part, binary = body, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise PayloadError(400, "Inference-Header-Content-Length does not fit the body")
        n = int(header_length)
        json_part, binary = body[:n], body[n:]
    try:
        payload = orjson.loads(json_part)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, f"the inference request is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise PayloadError(
            400, "an inference request needs 'inputs', a list of tensors",
            [problem(None, "inputs", "missing or not a list")],
        )
    return payload, binary


def tensors_to_rows(
    payload: dict[str, Any], binary: bytes, service: PredictionService, max_rows: int
) -> list[list[Any]]:
    columns = service.champion.columns
    tensors = _decode_inputs(payload["inputs"], binary)
    names = [name for name, _ in tensors]
    if set(names) == set(columns) and len(names) == len(columns):
        by_name = dict(tensors)
        arrays = []
        for c in columns:
            a = by_name[c]
            if a.ndim == 2 and a.shape[1] == 1:
                a = a[:, 0]
            if a.ndim != 1:
                raise PayloadError(
                    422, "a column tensor must have shape [n] or [n, 1]",
                    [problem(None, c, f"shape {list(a.shape)}")],
                )
            arrays.append(a)
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise PayloadError(
                422, "column tensors have different lengths",
                [problem(None, c, f"{len(a)} rows") for c, a in zip(columns, arrays, strict=True)],
            )
        n = lengths.pop()
        _check_rows(n, max_rows)
        return [list(r) for r in zip(*(a.tolist() for a in arrays), strict=True)]
    if len(tensors) == 1 and tensors[0][1].ndim == 2 and tensors[0][1].shape[1] == len(columns):
        matrix = tensors[0][1]
        _check_rows(len(matrix), max_rows)
        return matrix.tolist()
    extra = [n for n in names if n not in columns]
    missing = [c for c in columns if c not in names]
    detail = [problem(None, c, "missing input tensor") for c in missing]
    detail += [problem(None, n, "unexpected input tensor") for n in extra]
    raise PayloadError(
        422,
        f"send one tensor per column ({', '.join(columns)}) or one [n, {len(columns)}] tensor",
        detail,
    )


def _check_rows(n: int, max_rows: int) -> None:
    if n == 0:
        raise PayloadError(422, "the inputs hold no rows", [problem(None, "inputs", "0 rows")])
    if n > max_rows:
        raise PayloadError(
            422, f"too many rows: {n} > {max_rows}", [problem(None, "inputs", f"{n} rows")]
        )


def _decode_inputs(inputs: list[Any], binary: bytes) -> list[tuple[str, np.ndarray]]:
    out = []
    offset = 0
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise PayloadError(400, f"input {i} needs a 'name'", [problem(i, "inputs", "no name")])
        name = tensor["name"]
        shape, datatype = tensor.get("shape"), tensor.get("datatype")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise PayloadError(400, f"input {name!r}: 'shape' must be a list of sizes",
                               [problem(None, name, "bad shape")])
        if datatype != "BYTES" and datatype not in DTYPES:
            raise PayloadError(400, f"input {name!r}: unknown datatype {datatype!r}",
                               [problem(None, name, f"datatype {datatype!r}")])
        size = int(np.prod(shape)) if shape else 1
        params = tensor.get("parameters") or {}
        if "binary_data_size" in params:
            n = params["binary_data_size"]
            if not isinstance(n, int) or offset + n > len(binary):
                raise PayloadError(400, f"input {name!r}: binary_data_size overruns the body")
            chunk = binary[offset : offset + n]
            offset += n
            array = _from_binary(chunk, datatype, size, name)
        else:
            array = _from_json(tensor.get("data"), datatype, size, name)
        out.append((name, array.reshape(shape)))
    return out


def _from_json(data: Any, datatype: str, size: int, name: str) -> np.ndarray:
    if not isinstance(data, list):
        raise PayloadError(400, f"input {name!r}: 'data' must be a list",
                           [problem(None, name, "no data")])
    flat = np.asarray(data, dtype=object).ravel() if data and isinstance(data[0], list) else None
    values = flat.tolist() if flat is not None else data
    if len(values) != size:
        raise PayloadError(
            400, f"input {name!r}: {len(values)} values do not fill shape of {size}",
            [problem(None, name, "data does not match shape")],
        )
    if datatype == "BYTES":
        return np.asarray(values, dtype=object)
    try:
        return np.asarray(values, dtype=DTYPES[datatype])
    except (TypeError, ValueError):
        raise PayloadError(
            422, f"input {name!r}: values are not {datatype}",
            [problem(None, name, f"expected {datatype} values")],
        ) from None


def _from_binary(chunk: bytes, datatype: str, size: int, name: str) -> np.ndarray:
    if datatype != "BYTES":
        dtype = np.dtype(DTYPES[datatype]).newbyteorder("<")
        if len(chunk) != size * dtype.itemsize:
            raise PayloadError(400, f"input {name!r}: binary size does not match its shape")
        return np.frombuffer(chunk, dtype=dtype)
    values: list[Any] = []
    pos = 0
    while pos < len(chunk):
        length = int.from_bytes(chunk[pos : pos + 4], "little")
        raw = chunk[pos + 4 : pos + 4 + length]
        values.append(raw.decode("utf-8", errors="replace"))
        pos += 4 + length
    if len(values) != size:
        raise PayloadError(400, f"input {name!r}: {len(values)} strings for a shape of {size}")
    return np.asarray(values, dtype=object)


# -- responses ----------------------------------------------------------------------------
def infer_response(payload: dict[str, Any], answer: Answer) -> Response:
    tensors = _output_tensors(answer)
    wanted = payload.get("outputs")
    params = payload.get("parameters") or {}
    all_binary = bool(params.get("binary_data_output"))
    binary_of: dict[str, bool] = {}
    if isinstance(wanted, list) and wanted:
        names = []
        for entry in wanted:
            name = entry.get("name") if isinstance(entry, dict) else None
            if name not in tensors:
                return json_response(
                    {"error": f"unknown output {name!r}; choose from {', '.join(tensors)}"}, 400
                )
            names.append(name)
            binary_of[name] = bool((entry.get("parameters") or {}).get("binary_data", all_binary))
    else:
        names = list(tensors)
        binary_of = dict.fromkeys(names, all_binary)
    outputs = []
    chunks: list[bytes] = []
    for name in names:
        datatype, array = tensors[name]
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary_of[name]:
            raw = _to_binary(array, datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = array.ravel().tolist()
        outputs.append(entry)
    body: dict[str, Any] = {
        "model_name": answer.model,
        "model_version": str(answer.version),
        "outputs": outputs,
    }
    if "id" in payload:
        body["id"] = payload["id"]
    if not chunks:
        return json_response(body)
    header = orjson.dumps(body)
    return Response(
        header + b"".join(chunks),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


def _output_tensors(answer: Answer) -> dict[str, tuple[str, np.ndarray]]:
    predictions = answer.predictions
    values = [p for p in predictions if p is not None]
    if values and all(isinstance(p, bool) for p in values) and len(values) == len(predictions):
        predict = ("BOOL", np.asarray(predictions, dtype=bool))
    elif values and all(isinstance(p, int) and not isinstance(p, bool) for p in values):
        if len(values) == len(predictions):
            predict = ("INT64", np.asarray(predictions, dtype=np.int64))
        else:
            predict = ("FP64", np.asarray([np.nan if p is None else p for p in predictions]))
    elif values and all(isinstance(p, int | float) for p in values):
        predict = ("FP64", np.asarray([np.nan if p is None else p for p in predictions], float))
    else:
        predict = ("BYTES", np.asarray(["" if p is None else str(p) for p in predictions], object))
    tensors = {"predict": predict}
    if answer.probabilities is not None:
        tensors["predict_proba"] = ("FP64", np.asarray(answer.probabilities, dtype=np.float64))
    tensors["status"] = ("BYTES", np.asarray(answer.statuses, dtype=object))
    tensors["prediction_id"] = ("BYTES", np.asarray(answer.prediction_ids, dtype=object))
    return tensors


def _to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=np.dtype(DTYPES[datatype]).newbyteorder("<"))\
            .tobytes()
    parts = []
    for value in array.ravel().tolist():
        raw = value.encode() if isinstance(value, str) else bytes(value)
        parts.append(len(raw).to_bytes(4, "little") + raw)
    return b"".join(parts)
