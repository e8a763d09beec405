"""``monitor("churn@champion")``: everything monitoring knows about a served model, in one report.

Reads the prediction log (and its feedback) over a window, and the version's stored reference;
computes drift of features and predictions (and of labels once feedback arrives), data quality,
realized performance per window against the objectives of loopml.yaml, a confidence-based
estimate of performance before labels arrive, changes in the error stream, and the platform's
figures over time; then evaluates the alert rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, NotFound
from loopml.models.reference import PREDICTION, Reference, load_reference
from loopml.models.values import json_safe
from loopml.monitoring import alerts as alert_rules
from loopml.monitoring.drift import drift_report
from loopml.monitoring.log_frames import LABEL, parse_window, prediction_frame
from loopml.monitoring.platform import platform_series, platform_summary
from loopml.monitoring.quality import data_quality
from loopml.monitoring.report import DriftReport
from loopml.tracking import state

CLASSIFICATION = ("binary", "multiclass")
_DEFAULT_METRICS = {
    "binary": ["accuracy", "f1", "roc_auc"],
    "multiclass": ["accuracy", "f1"],
    "regression": ["rmse", "mae"],
}


@dataclass
class MonitorReport:
    model: str
    version: int | None
    since: int | None
    until: int
    n_predictions: int
    n_labels: int
    task: str | None
    features: list[str]
    prediction_column: str = PREDICTION
    share_drifted_columns: float = 0.5
    drift: DriftReport | None = None
    drift_note: str | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    performance: pd.DataFrame | None = None
    objectives: list[dict[str, Any]] = field(default_factory=list)
    estimated: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] | None = None
    platform: dict[str, Any] = field(default_factory=dict)
    platform_series: pd.DataFrame | None = None
    alerts: list[alert_rules.Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def latest_objectives(self) -> list[dict[str, Any]]:
        """Objective verdicts of the newest window that has labels."""
        if not self.objectives:
            return []
        newest = max(o["window_start"] for o in self.objectives)
        return [o for o in self.objectives if o["window_start"] == newest]

    @property
    def firing(self) -> list[alert_rules.Finding]:
        return [a for a in self.alerts if a.state == "firing"]

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "model": self.model,
                "version": self.version,
                "since": self.since,
                "until": self.until,
                "n_predictions": self.n_predictions,
                "n_labels": self.n_labels,
                "task": self.task,
                "drift": self.drift.to_dict() if self.drift is not None else None,
                "drift_note": self.drift_note,
                "quality": self.quality,
                "performance": _records(self.performance),
                "objectives": self.objectives,
                "estimated": self.estimated,
                "changes": self.changes,
                "platform": self.platform,
                "platform_series": _records(self.platform_series),
                "alerts": [a.to_dict() for a in self.alerts],
                "notes": self.notes,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | None = None) -> str:
        from loopml.monitoring.monitor_html import render_monitor_html

        page = render_monitor_html(self)
        if path is not None:
            from pathlib import Path

            Path(path).write_text(page, encoding="utf-8")
        return page


def monitor(
    model_uri: str,
    *,
    window: str | None = None,
    last: int | None = None,
    project: Any = None,
    now_ms: int | None = None,
    apply_alerts: bool = True,
    performance_window: str | int | None = None,
) -> MonitorReport:
    """Monitor ``model_uri`` over the last ``window`` (e.g. "1d") or the ``last`` N predictions.

    ``project`` is the ProjectSpec (default: loopml.yaml when one is found): task, objectives,
    drift settings and alert rules. With ``apply_alerts`` the findings are stored (opened,
    updated or resolved) and sent to the webhook.
    """
    from loopml.models.registry import get_model_version

    spec = project if project is not None else _find_spec()
    policy = spec.monitoring if spec is not None else None
    if window is None and last is None:
        if policy is not None and policy.window_rows is not None:
            last = policy.window_rows
        else:
            window = policy.window if policy is not None else "1d"
    version = get_model_version(model_uri)
    store = state.get_store()
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    frame = prediction_frame(store, version.name, window=window, last=last, now_ms=now)
    since = now - parse_window(window) if window is not None else (
        int(frame["time"].min()) if len(frame) else None
    )
    reference = _reference(version.name, version.version)
    features = (
        reference.features if reference is not None
        else [c["name"] for c in (version.signature or {}).get("inputs", [])]
    )
    task = spec.task if spec is not None else _guess_task(reference)
    report = MonitorReport(
        model=version.name,
        version=version.version,
        since=since,
        until=now,
        n_predictions=int(len(frame)),
        n_labels=int(frame[LABEL].notna().sum()) if LABEL in frame else 0,
        task=task,
        features=features,
        share_drifted_columns=policy.share_drifted_columns if policy is not None else 0.5,
    )
    _drift(report, reference, frame, policy)
    stats = store.list_service_stats(version.name, since=since, until=now + 1)
    if reference is not None and len(frame):
        report.quality = data_quality(reference.profile, frame, features, service_stats=stats)
    report.platform = platform_summary(stats)
    report.platform_series = platform_series(stats)
    _performance(report, frame, reference, spec,
                 performance_window or _performance_window(window, last, len(frame)))
    rules = policy.alerts if policy is not None else _default_rules()
    report.alerts = alert_rules.evaluate(report, rules)
    if apply_alerts:
        alert_rules.apply_findings(
            store, version.name, report.alerts,
            webhook=policy.alert_webhook if policy is not None else None, now=now,
        )
    return report


# -- parts -------------------------------------------------------------------------------------
def _drift(report: MonitorReport, reference: Reference | None, frame: pd.DataFrame,
           policy: Any) -> None:
    if reference is None:
        report.drift_note = (
            f"{report.model}/{report.version} has no stored reference: register it with "
            "training_data=... to monitor drift"
        )
        return
    if frame.empty:
        report.drift_note = "no predictions in this period"
        return
    columns = [c for c in [*reference.features, PREDICTION] if c in frame.columns]
    ref_data: Any = reference.sample if reference.sample is not None else reference.profile
    current = frame[columns]
    target = reference.target
    labelled = frame[LABEL].notna().sum() if LABEL in frame else 0
    if target is not None and labelled:
        current = current.assign(**{target: frame[LABEL]})
        columns.append(target)
    categorical = [PREDICTION, *([target] if target else [])] if report.task in CLASSIFICATION \
        else None
    report.drift = drift_report(
        ref_data,
        current,
        columns=columns,
        share_drifted_columns=policy.share_drifted_columns if policy is not None else 0.5,
        categorical=categorical,
        p_value_threshold=policy.drift_threshold if policy is not None else None,
    )


def _performance(report: MonitorReport, frame: pd.DataFrame, reference: Reference | None,
                 spec: Any, window: str | int) -> None:
    from loopml.monitoring import performance

    task = report.task
    if task is None or frame.empty:
        return
    metrics = _DEFAULT_METRICS[task]
    objectives = performance.objectives_from_spec(spec) if spec is not None else {}
    metrics = list(dict.fromkeys([*metrics, *[m for m in objectives if _known(m, task)]]))
    proba_col = None
    if task == "binary" and reference is not None and reference.classes:
        proba_col = f"loopml.proba.{reference.classes[-1]}"
        if proba_col not in frame.columns:
            proba_col = None
    if proba_col is None:
        metrics = [m for m in metrics if m not in ("roc_auc", "log_loss")]
    labelled = frame[LABEL].notna()
    if labelled.any():
        report.performance = performance.windowed_metrics(
            frame, task=task, metrics=metrics, window=window, time_col="time",
            label_col=LABEL, prediction_col=PREDICTION, proba_col=proba_col,
            classes=reference.classes if reference is not None and task != "regression"
            else None,
        )
        measured = {m: goal for m, goal in objectives.items() if m in metrics}
        report.objectives = [
            {**o, "verdict": o["status"], "condition": f"{o['op']} {o['threshold']:g}"}
            for o in performance.compare_to_objectives(report.performance, measured)
            if o["status"] != "no_data"
        ]
        _changes(report, frame[labelled])
    if task in CLASSIFICATION and reference is not None:
        _estimate(report, frame, reference, objectives)


def _changes(report: MonitorReport, labelled: pd.DataFrame) -> None:
    from loopml.monitoring.change_detection import detect_changes

    ordered = labelled.sort_values("time")
    if report.task in CLASSIFICATION:
        errors = (ordered[PREDICTION].astype(str) != ordered[LABEL].astype(str)).to_numpy(float)
    else:
        errors = np.abs(ordered[PREDICTION].astype(float) - ordered[LABEL].astype(float))
        errors = errors.to_numpy()
    at = detect_changes(errors, method="page_hinkley") if len(errors) else []
    times = ordered["time"].to_numpy()
    report.changes = [{"index": int(i), "time": int(times[i])} for i in at]


def _estimate(report: MonitorReport, frame: pd.DataFrame, reference: Reference,
              objectives: dict[str, tuple[str, float]]) -> None:
    from loopml.monitoring import cbpe
    from loopml.monitoring.performance import objective_status

    sample = reference.sample
    target = reference.target
    proba_cols = reference.proba_columns
    if (sample is None or target is None or target not in sample.columns
            or not all(c in frame.columns for c in proba_cols)):
        report.notes.append("no confidence-based estimate: the reference has no labels or "
                            "the log has no probabilities")
        return
    calibration = cbpe.fit_calibration(
        sample[proba_cols].to_numpy(float), sample[target].to_numpy(), reference.classes
    )
    proba = frame[proba_cols].to_numpy(float)
    ok = ~np.isnan(proba).any(axis=1)
    if not ok.any():
        return
    wanted = ["accuracy", *[m for m in objectives if m in ("roc_auc", "f1", "precision",
                                                            "recall") and m != "accuracy"]]
    if report.task == "multiclass":
        wanted = [m for m in wanted if m in ("accuracy", "f1")]
    for metric in dict.fromkeys(wanted):
        estimate = cbpe.estimate(proba[ok], reference.classes, calibration, metric=metric)
        entry: dict[str, Any] = {"metric": metric, "value": estimate.value,
                                 "lower": estimate.lower, "upper": estimate.upper,
                                 "n": estimate.n}
        goal = objectives.get(metric)
        if goal is not None:
            op, threshold = goal
            entry["condition"] = f"{op} {threshold:g}"
            entry["verdict"] = objective_status(
                op, threshold, estimate.value, estimate.lower, estimate.upper
            )
        report.estimated[metric] = entry



# -- helpers -----------------------------------------------------------------------------------
def _performance_window(window: str | None, last: int | None, n: int) -> str | int:
    """About a dozen performance windows over the period monitored."""
    if window is None:
        return max((last or n) // 10, 50)
    span_s = parse_window(window) // 1000
    for limit, size in ((86_400 * 7, "1d"), (86_400, "1h"), (3_600, "5m"), (0, "1m")):
        if span_s >= limit:
            return size
    return "1m"


def _reference(name: str, version: int) -> Reference | None:
    try:
        return load_reference(name, version)
    except NotFound:
        return None


def _find_spec() -> Any:
    from loopml.project import find_project, load_project

    found = find_project()
    return load_project(found) if found is not None else None


def _guess_task(reference: Reference | None) -> str | None:
    if reference is None:
        return None
    if reference.classes is None:
        return "regression"
    return "binary" if len(reference.classes) == 2 else "multiclass"


def _default_rules() -> list[Any]:
    from loopml.project.alert_rules import default_alert_rules

    return default_alert_rules()


def _known(metric: str, task: str) -> bool:
    from loopml.monitoring.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS

    return metric in (REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else frame.to_dict("records")



def validate_args(window: str | None, last: int | None) -> None:
    """CLI-facing check of the period arguments."""
    if window is not None and last is not None:
        raise InvalidInput("give --window or --last, not both")
    if window is not None:
        parse_window(window)
    if last is not None and last < 1:
        raise InvalidInput(f"--last: a positive number of predictions, got {last}")
