"""loopml: the whole machine-learning life cycle as one loop.

The public API is re-exported lazily so ``import loopml`` stays fast: nothing heavy
(pandas, SQLAlchemy, scikit-learn) is imported until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "start_run": "loopml.models.run",
    "active_run": "loopml.tracking.api",
    "end_run": "loopml.tracking.api",
    "log_param": "loopml.tracking.api",
    "log_params": "loopml.tracking.api",
    "log_metric": "loopml.tracking.api",
    "log_metrics": "loopml.tracking.api",
    "set_tag": "loopml.tracking.api",
    "set_tags": "loopml.tracking.api",
    "log_artifact": "loopml.tracking.api",
    "log_artifacts": "loopml.tracking.api",
    "log_figure": "loopml.tracking.api",
    "log_dataset": "loopml.tracking.api",
    "flush": "loopml.tracking.api",
    "get_run": "loopml.tracking.api",
    "get_metric_history": "loopml.tracking.api",
    "list_experiments": "loopml.tracking.api",
    "get_artifact": "loopml.tracking.api",
    "search_runs": "loopml.tracking.api",
    "autolog": "loopml.tracking.autolog",
    "configure": "loopml.tracking.state",
    "Run": "loopml.models.run",
    "register_model": "loopml.models.registry",
    "load_model": "loopml.models.registry",
    "get_model_version": "loopml.models.registry",
    "set_alias": "loopml.models.registry",
    "list_models": "loopml.models.registry",
    "list_model_versions": "loopml.models.registry",
    "alias_history": "loopml.models.registry",
    "set_version_tags": "loopml.models.registry",
    "set_description": "loopml.models.registry",
    "promote": "loopml.models.promotion",
    "evaluate": "loopml.models.evaluation",
    "baseline": "loopml.models.baseline",
    "check_overfit_small": "loopml.models.sanity",
    "load_project": "loopml.project",
    "validate": "loopml.data.validation",
    "ValidationReport": "loopml.data.validation",
    "DataValidationError": "loopml.data.validation",
    "anonymize": "loopml.data.anonymize",
    "infer_schema": "loopml.data.schema",
    "step": "loopml.pipelines.step",
    "pipeline": "loopml.pipelines.pipeline",
    "PipelineRun": "loopml.pipelines.runs",
    "PipelineFailed": "loopml.pipelines.errors",
    "drift_report": "loopml.monitoring.drift",
    "DriftReport": "loopml.monitoring.report",
    "monitor": "loopml.monitoring.monitor",
    "MonitorReport": "loopml.monitoring.monitor",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
