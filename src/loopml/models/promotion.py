"""Promotion gates: a version takes an alias (``champion`` by default) only if it meets every
objective of ``loopml.yaml`` and, when the alias already points at another version, beats
that version on the same holdout by the configured margin. Otherwise the promotion is
refused with a table of pass/fail per gate, unless forced with a reason (the force and the
reason go into the alias audit log).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInput, LoopmlError, NotFound
from loopml.models import registry
from loopml.store.entities import AliasEvent, ModelVersion, RunStatus
from loopml.tracking import state

DEFAULT_PRIMARY = {"binary": "roc_auc", "multiclass": "f1", "regression": "r2"}


@dataclass(frozen=True)
class Gate:
    name: str
    condition: str
    value: float | None
    passed: bool
    detail: str = ""


@dataclass
class PromotionResult:
    model: str
    version: int
    alias: str
    gates: list[Gate]
    promoted: bool = False
    forced: bool = False
    event: AliasEvent | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def table(self) -> str:
        """The gates as a plain-text table (what a refusal shows)."""
        rows = [("gate", "condition", "value", "result")]
        for g in self.gates:
            value = "-" if g.value is None else f"{g.value:.6g}"
            verdict = "PASS" if g.passed else "FAIL" + (f" ({g.detail})" if g.detail else "")
            rows.append((g.name, g.condition, value, verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(r))
            for r in rows
        ]
        return "\n".join(lines)


class PromotionRefused(LoopmlError):
    def __init__(self, result: PromotionResult) -> None:
        failed = sum(not g.passed for g in result.gates)
        super().__init__(
            f"{result.model}/{result.version} was not promoted to {result.alias!r}: {failed} "
            f"of {len(result.gates)} gates failed.\n{result.table()}\n"
            "Fix the model, or force it with force=True and a reason (kept in the audit log)."
        )
        self.result = result


def promote(
    name: str,
    version: int,
    alias: str = "champion",
    *,
    holdout: tuple[Any, Any] | None = None,
    sensitive: Any = None,
    spec: Any = None,
    margin: float | None = None,
    force: bool = False,
    reason: str | None = None,
) -> PromotionResult:
    """Move ``name@alias`` to ``version`` if every gate passes (see the module docstring).

    ``holdout=(X, y)`` evaluates this version (and the current holder of the alias) on the
    same data; without it the metrics recorded at registration are used.
    """
    if force and not (reason and reason.strip()):
        raise InvalidInput("force=True needs a reason: it is kept in the audit log.")
    store = state.get_store()
    candidate = store.get_model_version(name, version)
    _require_finished_run(candidate)
    project = _project(spec)
    task = getattr(project, "task", None)
    result = PromotionResult(name, candidate.version, alias, gates=[])
    metrics = dict(candidate.metrics)
    if holdout is not None:
        metrics.update(_evaluate(candidate, holdout, task, sensitive, project))
    result.gates += _objective_gates(project, metrics, result.notes)
    current = _current_holder(name, alias)
    if current is not None and current.version != candidate.version:
        margin = _margin(project, margin)
        result.gates.append(
            _champion_gate(candidate, current, metrics, holdout, task, project, margin)
        )
    if not result.gates:
        result.notes.append("no objectives in loopml.yaml and no current holder: nothing to check")
    if not result.passed and not force:
        raise PromotionRefused(result)
    passed = result.passed
    why = reason or f"promoted: {len(result.gates)} gates passed"
    result.event = registry.set_alias(
        name, alias, candidate.version, reason=why, forced=force and not passed
    )
    result.promoted = True
    result.forced = force and not passed
    return result


def _require_finished_run(version: ModelVersion) -> None:
    if version.run_id is None:
        return
    run = state.get_store().get_run(version.run_id)
    if run.info.status is not RunStatus.FINISHED:
        raise InvalidInput(
            f"{version.uri} comes from run {version.run_id}, which ended "
            f"{run.info.status.value}; a version from an unfinished or failed run cannot be "
            "promoted. Train it again in a run that finishes."
        )


def _project(spec: Any) -> Any:
    if spec is not None and not isinstance(spec, str):
        return spec
    from loopml.project import load_project

    try:
        return load_project(spec)
    except NotFound:
        if spec is not None:
            raise
        return None


def _objective_gates(project: Any, metrics: dict[str, float], notes: list[str]) -> list[Gate]:
    if project is None:
        notes.append("no loopml.yaml found: no objectives to check")
        return []
    gates = []
    for objective in project.objective_list():
        value = metrics.get(objective.metric)
        condition = f"{objective.metric} {objective.op} {objective.threshold:g}"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            gates.append(Gate(objective.metric, condition, None, False, "not measured"))
        else:
            gates.append(Gate(objective.metric, condition, value, objective.passes(value)))
    from loopml.models.fairness import gap_key

    for rule in project.fairness_rules():
        key = gap_key(rule.metric, rule.column)
        value = metrics.get(key)
        condition = f"{key} <= {rule.max_gap:g}"
        if value is None:
            gates.append(Gate(key, condition, None, False, "not measured (pass a holdout)"))
        else:
            gates.append(Gate(key, condition, value, value <= rule.max_gap))
    return gates


def _evaluate(
    version: ModelVersion, holdout: tuple[Any, Any], task: str | None, sensitive: Any, project: Any
) -> dict[str, float]:
    from loopml.models.evaluation import evaluate

    X, y = _holdout(holdout)
    fairness = _fairness_pairs(project)
    X, sensitive = _model_inputs(version, X, sensitive, fairness)
    loaded = registry.load_model(version.uri)
    evaluation = evaluate(
        loaded.model,
        X,
        y,
        task=task,
        sensitive=sensitive if fairness else None,
        fairness=fairness or None,
        log=False,
    )
    return {**evaluation.metrics, **evaluation.fairness_gaps}


def _model_inputs(
    version: ModelVersion, X: Any, sensitive: Any, fairness: list[tuple[str, str]]
) -> tuple[Any, Any]:
    """A holdout file usually holds more than the model's inputs (sensitive columns, ids):
    take the signature's columns for the model and the fairness columns for the groups."""
    columns = [c["name"] for c in (version.signature or {}).get("inputs", [])]
    if not columns or not hasattr(X, "columns"):
        return X, sensitive
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise InvalidInput(
            f"the holdout lacks input columns of {version.uri}: {', '.join(missing)}."
        )
    if sensitive is None and fairness:
        wanted = sorted({column for _, column in fairness if column in X.columns})
        sensitive = X[wanted] if wanted else None
    return X[columns], sensitive


def _fairness_pairs(project: Any) -> list[tuple[str, str]]:
    if project is None:
        return []
    return [(rule.metric, rule.column) for rule in project.fairness_rules()]


def _holdout(holdout: Any) -> tuple[Any, Any]:
    if not isinstance(holdout, Sequence) or len(holdout) != 2:
        raise InvalidInput("holdout must be a pair (X, y) of the same length.")
    return holdout[0], holdout[1]


def _current_holder(name: str, alias: str) -> ModelVersion | None:
    try:
        return state.get_store().get_model_version_by_alias(name, alias)
    except NotFound:
        return None


def _margin(project: Any, margin: float | None) -> float:
    if margin is not None:
        return float(margin)
    retraining = getattr(project, "retraining", None)
    return float(getattr(retraining, "promote_margin", 0.0) or 0.0)


def _primary_metric(project: Any, task: str | None, metrics: dict[str, float]) -> str:
    if project is not None:
        for objective in project.objective_list():
            if objective.metric not in {"latency_p95_ms", "model_size_mb"}:
                return objective.metric
    if task in DEFAULT_PRIMARY:
        return DEFAULT_PRIMARY[task]
    for metric in ("roc_auc", "f1", "accuracy", "r2"):
        if metric in metrics:
            return metric
    return "accuracy"


def _champion_gate(
    candidate: ModelVersion,
    current: ModelVersion,
    metrics: dict[str, float],
    holdout: Any,
    task: str | None,
    project: Any,
    margin: float,
) -> Gate:
    metric = _primary_metric(project, task, metrics)
    name = f"beats {current.uri}"
    if holdout is None:
        return Gate(
            name,
            f"{metric} on a shared holdout",
            metrics.get(metric),
            False,
            "pass holdout=(X, y) to compare on the same data",
        )
    champion_metrics = _evaluate(current, holdout, task, None, None)
    mine, theirs = metrics.get(metric), champion_metrics.get(metric)
    if mine is None or theirs is None:
        return Gate(name, f"{metric} measured on both", mine, False, "metric not computed")
    from loopml.project.objectives import metric_direction

    if metric_direction(metric) == "lower":
        condition = f"{metric} <= {theirs:.6g} - {margin:g}"
        return Gate(name, condition, mine, mine <= theirs - margin)
    condition = f"{metric} >= {theirs:.6g} + {margin:g}"
    return Gate(name, condition, mine, mine >= theirs + margin)
