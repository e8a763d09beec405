"""The project spec, ``loopml.yaml``: the problem declared once, read by every later stage.

    from loopml.project import load_project
    spec = load_project()              # ./loopml.yaml or the nearest one above
    spec.task, spec.target             # "binary", "churned"
    for goal in spec.objective_list(): # Objective("roc_auc", ">=", 0.85)
        goal.passes(metrics[goal.metric])

Importing this package imports pydantic; ``import loopml`` does not import it.
"""

from __future__ import annotations

from loopml.project.fields import SLUG_RE
from loopml.project.loading import PROJECT_FILE, find_project, load_project, parse_project
from loopml.project.objectives import Objective, metric_direction, parse_condition
from loopml.project.problems import SpecError, SpecProblem
from loopml.project.schema import (
    DataSource,
    FairnessObjective,
    MonitoringPolicy,
    Objectives,
    ProjectSpec,
    RetrainingPolicy,
    ServingPolicy,
)

__all__ = [
    "PROJECT_FILE",
    "SLUG_RE",
    "DataSource",
    "FairnessObjective",
    "MonitoringPolicy",
    "Objective",
    "Objectives",
    "ProjectSpec",
    "RetrainingPolicy",
    "ServingPolicy",
    "SpecError",
    "SpecProblem",
    "find_project",
    "load_project",
    "metric_direction",
    "parse_condition",
    "parse_project",
]
