"""Turn a matplotlib or plotly figure into file bytes, by the artifact's extension."""

from __future__ import annotations

import io
from typing import Any

from loopml.errors import InvalidInput

_MATPLOTLIB_FORMATS = {"png", "svg", "pdf", "jpg", "jpeg"}


def figure_bytes(figure: Any, artifact_path: str) -> bytes:
    extension = artifact_path.rsplit(".", 1)[-1].lower() if "." in artifact_path else ""
    if hasattr(figure, "savefig"):  # matplotlib Figure
        if extension not in _MATPLOTLIB_FORMATS:
            raise InvalidInput(
                f"log_figure: {artifact_path!r} needs one of the extensions "
                f"{', '.join(sorted(_MATPLOTLIB_FORMATS))} for a matplotlib figure."
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, bbox_inches="tight")
        return buffer.getvalue()
    if hasattr(figure, "to_html") and hasattr(figure, "to_json"):  # plotly Figure
        if extension == "html":
            return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
        if extension == "json":
            return figure.to_json().encode("utf-8")
        raise InvalidInput(
            f"log_figure: {artifact_path!r}: save a plotly figure as .html (self-contained, "
            "opens offline) or .json."
        )
    raise InvalidInput(
        f"log_figure: expected a matplotlib or plotly figure, got {type(figure).__name__}."
    )
