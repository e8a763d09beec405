"""Export a registered model for another runtime (ONNX), checked against the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput
from loopml.models import registry


def export_registered(uri: str, output: str | Path | None = None) -> Any:
    """Write ``uri`` as ONNX; the file is run in onnxruntime on the input example stored at
    registration and compared with the model's own predictions before it is kept."""
    from loopml.models.onnx_export import export_onnx

    loaded = registry.load_model(uri)
    example = registry.load_input_example(loaded.version)
    if example is None:
        raise InvalidInput(
            f"{loaded.version.uri} was registered without an input_example; ONNX export "
            "checks the exported file on it. Register the model again with input_example=."
        )
    path = Path(output or f"{loaded.name}-v{loaded.version.version}.onnx")
    return export_onnx(loaded.model, example, path)
