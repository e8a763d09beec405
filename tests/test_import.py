"""``import loopml`` stays light: the API is there, the heavy libraries are not loaded yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["pandas", "numpy", "sqlalchemy", "sklearn", "typer", "alembic", "matplotlib", "plotly"]

PROBE = f"""
import json, sys
import loopml
heavy_after_import = [m for m in {HEAVY!r} if m in sys.modules]
api_loaded_early = "loopml.tracking.api" in sys.modules
listing = dir(loopml)
start_run = loopml.start_run
print(json.dumps({{
    "heavy_after_import": heavy_after_import,
    "api_loaded_early": api_loaded_early,
    "api_loaded_late": "loopml.tracking.api" in sys.modules,
    "start_run_module": start_run.__module__,
    "callable": callable(start_run),
    "dir": listing,
}}))
"""


def probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_import_loads_no_heavy_library_and_resolves_the_api_lazily() -> None:
    result = probe()
    assert result["heavy_after_import"] == []
    assert result["api_loaded_early"] is False
    assert result["api_loaded_late"] is True
    assert result["start_run_module"] == "loopml.models.run"  # a run that can log models
    assert result["callable"] is True
    for name in (
        "start_run",
        "log_metric",
        "log_params",
        "search_runs",
        "get_run",
        "get_metric_history",
        "log_figure",
        "log_dataset",
        "autolog",
        "flush",
        "configure",
        "__version__",
    ):
        assert name in result["dir"], name


def test_unknown_attribute_is_an_attribute_error() -> None:
    import loopml

    with pytest.raises(AttributeError, match="no_such_function"):
        loopml.no_such_function  # noqa: B018
