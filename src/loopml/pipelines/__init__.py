"""Reproducible pipelines: ``@step`` functions wired into a DAG by ``@pipeline``, run with a
content-addressed cache, one seed per run and every step tracked as a child run.

Only light modules are imported here; pandas, scikit-learn and the store load on first use.
"""

from __future__ import annotations

from loopml.pipelines.errors import PipelineFailed, StepTimeout
from loopml.pipelines.pipeline import Pipeline, pipeline
from loopml.pipelines.runs import PipelineRun, StepResult
from loopml.pipelines.step import Step, step
from loopml.pipelines.tracing import StepOutput

__all__ = [
    "Pipeline",
    "PipelineFailed",
    "PipelineRun",
    "Step",
    "StepOutput",
    "StepResult",
    "StepTimeout",
    "pipeline",
    "step",
]
