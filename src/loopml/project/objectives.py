"""Metric objectives: ``roc_auc: ">= 0.85"`` parsed into ``Objective(metric, op, threshold)``.

Objectives are the promotion gates of later stages, so a condition must mean exactly one
thing: an operator and a finite number. A bare number is accepted only where the direction
is obvious (``latency_p95_ms: 50`` means ``<= 50``); ``max_model_mb: 50`` is normalised to
``model_size_mb <= 50``, the name evaluation logs.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": lambda value, threshold: math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12),
}
ALLOWED_OPERATORS = tuple(OPERATORS)

#: Keys of ``objectives`` that are renamed to the metric evaluation logs.
ALIASES: dict[str, str] = {"max_model_mb": "model_size_mb"}

_HIGHER: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "average_precision",
    "r2",
)
_LOWER: tuple[str, ...] = (
    "latency_p95_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_ms_per_row",
    "model_size_mb",
    "log_loss",
    "rmse",
    "mse",
    "mae",
    "mape",
    "brier",
)
# these lie in [0, 1]: a threshold of 85 is a percentage written by mistake
_BOUNDED_01 = tuple(name for name in _HIGHER if name != "r2")
_NON_NEGATIVE = _LOWER

# the characters tracking accepts in a metric key, so an objective can name any logged metric
METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9_\-. /:]{1,250}$")
_CONDITION_RE = re.compile(r"^\s*(>=|<=|==|>|<|=>|=<|=|!=)?\s*(.*?)\s*$")


class ConditionError(ValueError):
    """A condition string that does not parse; the message says what is allowed."""


def _family(metric: str, names: tuple[str, ...]) -> bool:
    """``f1_macro`` and ``roc_auc_ovr`` belong to the family of ``f1`` and ``roc_auc``."""
    return any(metric == name or metric.startswith(name + "_") for name in names)


def metric_direction(metric: str) -> str | None:
    """``"higher"`` or ``"lower"`` is better for a known metric, ``None`` when unknown."""
    metric = ALIASES.get(metric, metric)
    if _family(metric, _LOWER):
        return "lower"
    if _family(metric, _HIGHER):
        return "higher"
    return None


def format_number(value: float) -> str:
    """``50.0`` -> ``"50"``, ``0.85`` -> ``"0.85"``: thresholds read as the user wrote them."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True)
class Objective:
    """One metric goal, ``metric op threshold``; ``key`` is the spelling in ``loopml.yaml``."""

    metric: str
    op: str
    threshold: float
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ConditionError(
                f"operator {self.op!r} is not allowed; use one of {', '.join(OPERATORS)}"
            )
        if not self.key:
            object.__setattr__(self, "key", self.metric)

    @property
    def condition(self) -> str:
        return f"{self.op} {format_number(self.threshold)}"

    def passes(self, value: float | None) -> bool:
        """Whether a measured value meets the goal. A missing or NaN value never passes."""
        if value is None:
            return False
        value = float(value)
        if math.isnan(value):
            return False
        return bool(OPERATORS[self.op](value, self.threshold))

    def __str__(self) -> str:
        return f"{self.metric} {self.condition}"


def split_condition(condition: object) -> tuple[str | None, float]:
    """The operator (``None`` for a bare number) and the finite threshold of a condition.

    Raises :class:`ConditionError` for anything else; this part needs no metric name.
    """
    if isinstance(condition, bool) or not isinstance(condition, int | float | str):
        hint = " (only 'fairness' holds a list)" if isinstance(condition, list) else ""
        raise ConditionError(
            f"expected a condition such as '>= 0.85', got {short_repr(condition)}{hint}"
        )
    if isinstance(condition, str):
        match = _CONDITION_RE.match(condition)
        assert match is not None  # the pattern matches any string
        op, text = match.group(1), match.group(2)
        if op in ("=>", "=<", "=", "!="):
            raise ConditionError(
                f"operator {op!r} in {condition!r} is not allowed; use one of "
                f"{', '.join(OPERATORS)}"
            )
        try:
            number = float(text)
        except ValueError:
            raise ConditionError(
                f"threshold {text!r} in {condition!r} is not a number; write an operator "
                f"and a number, such as '>= 0.85' (operators: {', '.join(OPERATORS)})"
            ) from None
    else:
        op, number = None, float(condition)
    if not math.isfinite(number):
        raise ConditionError(f"the threshold in {condition!r} must be a finite number")
    return op, number


def parse_condition(key: str, condition: object) -> Objective:
    """Parse the value of ``objectives.<key>`` into an :class:`Objective`.

    Raises :class:`ConditionError` with a message that shows an accepted form.
    """
    op, number = split_condition(condition)
    metric = ALIASES.get(key, key)
    direction = metric_direction(metric)
    if op is None:
        if direction is None:
            shown = format_number(number)
            raise ConditionError(
                f"a bare number ({shown}) needs an operator for {key!r}, whose direction is "
                f"not known; write '>= {shown}' or '<= {shown}'"
            )
        op = "<=" if direction == "lower" else ">="
    if key in ALIASES and op not in ("<=", "<"):
        raise ConditionError(
            f"{key} is an upper limit; write a bare number or '<= N', not {condition!r}"
        )
    if _family(metric, _BOUNDED_01) and not 0 <= number <= 1:
        raise ConditionError(
            f"{metric} lies between 0 and 1, so {condition!r} cannot be meant; "
            "write a fraction (0.85), not a percentage"
        )
    if _family(metric, _NON_NEGATIVE) and number < 0:
        raise ConditionError(f"{metric} is never negative; {condition!r} cannot be meant")
    return Objective(metric=metric, op=op, threshold=number, key=key)


def short_repr(value: object, limit: int = 60) -> str:
    """A repr for messages, cut at ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
