"""Alert rules of ``monitoring.alerts`` in loopml.yaml: what is watched, from which level."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from loopml.project.fields import Model, NonNegative, raise_all

ALERT_RULES = (
    "drift",  # the data drifts (share of drifted columns)
    "prediction_drift",  # the model's predictions drift
    "performance",  # a realized metric misses its objective (needs feedback labels)
    "estimated_performance",  # the confidence-based estimate misses its objective
    "concept_drift",  # a change detector fires on the error stream
    "error_rate",  # share of HTTP errors, above `above`
    "latency_p99_ms",  # above `above`
    "latency_p95_ms",
    "missing_rate_jump",  # a column's missing rate rose by more than `above`
)
_NEEDS_ABOVE = {"error_rate", "latency_p99_ms", "latency_p95_ms", "missing_rate_jump"}


class AlertRule(Model):
    """One alert rule: what is watched, from which level (`above`), how loud."""

    rule: Literal[ALERT_RULES]  # type: ignore[valid-type]
    above: NonNegative | None = None
    severity: Literal["info", "warning", "critical"] = "warning"

    @model_validator(mode="after")
    def _threshold(self) -> AlertRule:
        if self.rule in _NEEDS_ABOVE and self.above is None:
            raise_all(
                "AlertRule",
                [(("above",), f"rule {self.rule!r} needs `above: <threshold>`", None)],
            )
        return self


def default_alert_rules() -> list[AlertRule]:
    """Rules used when loopml.yaml lists none."""
    return [
        AlertRule(rule="drift"),
        AlertRule(rule="prediction_drift"),
        AlertRule(rule="performance", severity="critical"),
        AlertRule(rule="estimated_performance"),
        AlertRule(rule="concept_drift"),
        AlertRule(rule="error_rate", above=0.05),
        AlertRule(rule="missing_rate_jump", above=0.2),
    ]
