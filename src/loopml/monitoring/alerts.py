"""Alert rules of loopml.yaml, evaluated against a monitoring report; stored, sent, deduplicated.

Each rule yields a *finding*: firing (with the evidence that made it fire), clear, or not
evaluated (no data for it yet: an open alert is then left as it is). A firing rule opens an
alert in the store, or updates the open one (one alert per model and rule while it stays open:
no storm of duplicates); a clear rule resolves it. Only a newly opened or a resolved alert is
sent: to the log always, and to ``monitoring.alert_webhook`` when set (a POST of JSON; a
failing webhook is logged and never stops monitoring). Alerts are what the retraining loop
listens to.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from loopml.store.base import Store

log = logging.getLogger("loopml.monitoring")


@dataclass
class Finding:
    rule: str
    severity: str
    state: str  # firing | clear | not evaluated
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    alert_id: int | None = None
    change: str | None = None  # opened | updated | resolved (after apply_findings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(report: Any, rules: list[Any]) -> list[Finding]:
    """One finding per rule (``AlertRule`` of the spec) from a ``MonitorReport``."""
    return [_evaluate(rule, report) for rule in rules]


def _evaluate(rule: Any, report: Any) -> Finding:
    kind, above, severity = rule.rule, rule.above, rule.severity

    def firing(message: str, **evidence: Any) -> Finding:
        return Finding(kind, severity, "firing", message, evidence)

    def clear(message: str) -> Finding:
        return Finding(kind, severity, "clear", message)

    def skipped(message: str) -> Finding:
        return Finding(kind, severity, "not evaluated", message)

    if kind in ("drift", "prediction_drift"):
        drift = report.drift
        if drift is None:
            return skipped(report.drift_note or "no drift report (no reference or no traffic)")
        if kind == "drift":
            features = [c for c in drift.columns.values() if c.name in report.features]
            drifted = [c for c in features if c.drifted]
            meaningful = [c for c in features if c.meaningful]
            if not meaningful:
                return skipped("no feature could be tested meaningfully (too few rows?)")
            share = len(drifted) / len(features)
            if share >= report.share_drifted_columns:
                return firing(
                    f"{len(drifted)} of {len(features)} features drifted ({share:.0%} >= "
                    f"{report.share_drifted_columns:.0%})",
                    columns={c.name: _column_evidence(c) for c in drifted},
                )
            return clear(f"{len(drifted)} of {len(features)} features drifted")
        column = drift.columns.get(report.prediction_column)
        if column is None or not column.meaningful:
            return skipped("the predictions could not be compared with the reference")
        if column.drifted:
            return firing("the model's predictions drifted", prediction=_column_evidence(column))
        return clear("the predictions match the reference")

    if kind == "performance":
        latest = report.latest_objectives()
        if not latest:
            return skipped("no labelled window yet (feedback labels join predictions)")
        missed = [o for o in latest if o["verdict"] == "missed"]
        if missed:
            names = ", ".join(f"{o['metric']} {o['value']:.4g} (goal {o['condition']})"
                              for o in missed)
            return firing(f"objectives missed on labelled traffic: {names}", objectives=missed)
        return clear("objectives met (or uncertain) on labelled traffic")

    if kind == "estimated_performance":
        estimates = report.estimated or {}
        if not estimates:
            return skipped("no performance estimate (not a classifier, or no reference)")
        missed = [e for e in estimates.values() if e.get("verdict") == "missed"]
        if missed:
            names = ", ".join(f"{e['metric']} ~{e['value']:.4g} (goal {e['condition']})"
                              for e in missed)
            return firing(f"estimated from confidence: {names}", estimates=missed)
        return clear("the confidence-based estimates meet the objectives")

    if kind == "concept_drift":
        if report.changes is None:
            return skipped("no labelled errors to watch yet")
        if report.changes:
            return firing(f"the error rate changed at {len(report.changes)} point(s)",
                          changes=report.changes)
        return clear("no change detected in the error stream")

    platform = report.platform or {}
    if kind == "error_rate":
        if not platform.get("requests"):
            return skipped("no service statistics in this period")
        rate = platform["error_rate"]
        if rate > above:
            return firing(f"error rate {rate:.2%} > {above:.2%}", error_rate=rate,
                          errors_by_code=platform.get("errors_by_code", {}))
        return clear(f"error rate {rate:.2%}")
    if kind in ("latency_p99_ms", "latency_p95_ms"):
        value = platform.get(kind.removeprefix("latency_"))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return skipped("no latency figures in this period")
        if value > above:
            return firing(f"{kind.removeprefix('latency_')} {value:.1f} ms > {above:g} ms",
                          value_ms=value)
        return clear(f"{kind.removeprefix('latency_')} {value:.1f} ms")
    if kind == "missing_rate_jump":
        columns = (report.quality or {}).get("columns", {})
        if not columns:
            return skipped("no data quality figures")
        jumps = {name: c["missing_rate_jump"] for name, c in columns.items()
                 if c.get("missing_rate_jump", 0.0) > above}
        if jumps:
            return firing(f"missing rate rose by more than {above:.0%} in "
                          f"{', '.join(sorted(jumps))}", jumps=jumps)
        return clear("missing rates are as in the reference")
    return skipped(f"unknown rule {kind!r}")


def _column_evidence(column: Any) -> dict[str, Any]:
    return {"test": column.test, "statistic": column.statistic, "p_value": column.p_value,
            "threshold": column.threshold}


def apply_findings(
    store: Store,
    model: str,
    findings: list[Finding],
    *,
    webhook: str | None = None,
    now: int | None = None,
) -> list[Finding]:
    """Open, update or resolve alerts in the store; send the newly opened and resolved ones."""
    for finding in findings:
        if finding.state == "firing":
            alert, new = store.fire_alert(
                model, finding.rule, severity=finding.severity, message=finding.message,
                evidence=finding.evidence, now=now,
            )
            finding.alert_id, finding.change = alert.alert_id, "opened" if new else "updated"
            if new:
                _notify(webhook, "alert_opened", model, finding)
        elif finding.state == "clear":
            resolved = store.resolve_alert(model, finding.rule, now=now)
            if resolved is not None:
                finding.alert_id, finding.change = resolved.alert_id, "resolved"
                _notify(webhook, "alert_resolved", model, finding)
    return findings


def _notify(webhook: str | None, event: str, model: str, finding: Finding) -> None:
    level = logging.WARNING if event == "alert_opened" else logging.INFO
    log.log(level, "%s %s [%s] %s", model, event.replace("_", " "), finding.rule,
            finding.message)
    if not webhook:
        return
    import httpx
    import orjson

    payload = {"event": event, "model": model, **finding.to_dict()}
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY, default=str)
    try:
        httpx.post(
            webhook, content=body, headers={"content-type": "application/json"}, timeout=5.0
        ).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("alert webhook %s failed: %s", webhook, exc)
