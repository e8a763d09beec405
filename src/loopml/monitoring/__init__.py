"""Monitoring: is the model still seeing the data it was trained on?

``drift_report`` compares current data (or predictions, or labels) with a reference frame
or a stored reference profile, column by column, and renders the result as JSON or as one
self-contained HTML page. Names are imported lazily, so importing a sibling module does not
pull in pandas, scipy or plotly.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "drift_report": "loopml.monitoring.drift",
    "DriftReport": "loopml.monitoring.report",
    "ColumnDrift": "loopml.monitoring.report",
    "render_drift_html": "loopml.monitoring.html_report",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'loopml.monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
