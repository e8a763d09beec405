"""Export a scikit-learn model to ONNX, and prove the file predicts like the model.

Where inference runs is the user's choice; an exported file is only kept after onnxruntime
has run it on the input example and its outputs matched the model's own
(``predict_proba`` for classifiers, else ``predict``) within tolerance.

Inputs of the ONNX graph: an all-numeric example becomes one float tensor ``"X"`` of shape
``[None, n_columns]``; otherwise every column is its own ``[None, 1]`` input named after it
(float, int64, or string tensors), which is what ColumnTransformer pipelines need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import as_frame
from loopml.errors import InvalidInput, LoopmlError

SINGLE_INPUT = "X"


class OnnxMismatchError(LoopmlError):
    """The exported ONNX file does not reproduce the model's outputs; it was removed."""


class OnnxConversionError(LoopmlError):
    """skl2onnx cannot convert the model (unsupported estimator or input)."""


@dataclass(frozen=True)
class OnnxExport:
    """Where the checked ONNX file is and how closely it matches the model."""

    path: Path
    size_bytes: int
    max_abs_diff: float
    opset: int
    inputs: tuple[tuple[str, str], ...] = ()  # (name, "float" | "int64" | "string")


def export_onnx(
    model: Any,
    input_example: Any,
    path: str | os.PathLike[str],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    target_opset: int | None = None,
) -> OnnxExport:
    """Convert ``model`` with skl2onnx, write it to ``path`` and check it in onnxruntime.

    The file is removed again (and ``OnnxMismatchError`` raised) when any output differs
    from the model's by more than ``atol + rtol * |expected|``.
    """
    example = as_frame(input_example, "input_example")
    if example.shape[0] == 0:
        raise InvalidInput("input_example: has no rows; ONNX export checks the file on them")
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(f"model: a {type(model).__name__} has no predict method to export")
    target = Path(path)
    onx, inputs = _convert(model, example, target_opset)
    payload = onx.SerializeToString()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    try:
        diff = _check(model, example, target, inputs, rtol=rtol, atol=atol)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    opset = max((o.version for o in onx.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return OnnxExport(
        path=target,
        size_bytes=len(payload),
        max_abs_diff=diff,
        opset=int(opset),
        inputs=tuple(inputs),
    )


def onnx_feeds(frame: pd.DataFrame, inputs: tuple[tuple[str, str], ...] | list[Any]) -> dict:
    """The onnxruntime input dict for ``frame``, matching an export's ``inputs``."""
    if len(inputs) == 1 and inputs[0][0] == SINGLE_INPUT and SINGLE_INPUT not in frame.columns:
        return {SINGLE_INPUT: frame.to_numpy(dtype=np.float32)}
    feeds = {}
    for name, kind in inputs:
        column = frame[name]
        if kind == "string":
            feeds[name] = column.astype(object).to_numpy().reshape(-1, 1)
        else:
            dtype = np.int64 if kind == "int64" else np.float32
            feeds[name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
    return feeds


def _input_kinds(example: pd.DataFrame) -> list[tuple[str, str]]:
    kinds = []
    for name in example.columns:
        dtype = example[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds.append((name, "float"))
        elif pd.api.types.is_integer_dtype(dtype):
            kinds.append((name, "int64"))
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds.append((name, "float"))
        else:
            kinds.append((name, "string"))
    return kinds


def _convert(
    model: Any, example: pd.DataFrame, target_opset: int | None
) -> tuple[Any, list[tuple[str, str]]]:
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    per_column = _input_kinds(example)
    tensor = {"float": FloatTensorType, "int64": Int64TensorType, "string": StringTensorType}
    attempts = []
    if all(kind != "string" for _, kind in per_column):
        attempts.append([(SINGLE_INPUT, "float", example.shape[1])])
    attempts.append([(name, kind, 1) for name, kind in per_column])
    reason: Exception | None = None
    for attempt in attempts:
        initial = [(name, tensor[kind]([None, width])) for name, kind, width in attempt]
        try:
            onx = _to_onnx(model, initial, target_opset)
        except Exception as exc:  # noqa: BLE001 - skl2onnx raises many types; try next layout
            reason = exc if reason is None else reason
            continue
        return onx, [(name, kind) for name, kind, _ in attempt]
    raise OnnxConversionError(
        f"model: skl2onnx cannot convert a {type(model).__module__}.{type(model).__qualname__} "
        f"({type(reason).__name__}: {_first_line(reason)}); export only works for models built "
        "from estimators skl2onnx supports, or register a converter with "
        "skl2onnx.update_registered_converter"
    ) from reason


def _to_onnx(model: Any, initial: list[Any], target_opset: int | None) -> Any:
    from skl2onnx import to_onnx

    options = {"zipmap": False} if _is_classifier(model) else None
    return to_onnx(model, initial_types=initial, target_opset=target_opset, options=options)


def _check(
    model: Any,
    example: pd.DataFrame,
    path: Path,
    inputs: list[tuple[str, str]],
    *,
    rtol: float,
    atol: float,
) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    results = session.run(None, onnx_feeds(example, inputs))
    if _is_classifier(model):
        expected = np.asarray(model.predict_proba(example), dtype="float64")
        got = _output(session, results, "probabilities", fallback=1)
        what = "probabilities"
    else:
        expected = np.asarray(model.predict(example), dtype="float64")
        got = _output(session, results, "variable", fallback=0)
        what = "predictions"
    got = np.asarray(got, dtype="float64").reshape(expected.shape)
    diff = np.abs(got - expected)
    max_diff = float(diff.max()) if diff.size else 0.0
    if not np.all(diff <= atol + rtol * np.abs(expected)):
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise OnnxMismatchError(
            f"ONNX export of {type(model).__name__}: onnxruntime's {what} differ from the "
            f"model's by up to {max_diff:.3g} (row {int(worst[0])}; tolerance atol={atol}, "
            f"rtol={rtol}); the file {str(path)!r} was removed. Loosen rtol/atol if float32 "
            "precision is acceptable, or serve the model itself"
        )
    return max_diff


def _output(session: Any, results: list[Any], name: str, *, fallback: int) -> Any:
    names = [o.name for o in session.get_outputs()]
    return results[names.index(name)] if name in names else results[min(fallback, len(results) - 1)]


def _is_classifier(model: Any) -> bool:
    return callable(getattr(model, "predict_proba", None)) and hasattr(model, "classes_")


def _first_line(exc: Exception | None) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no reason given"
