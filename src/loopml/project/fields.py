"""The value types of ``loopml.yaml``: slugs, column and metric names, fractions, counts,
conditions. Each refusal is a message that says what is allowed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from loopml.project.objectives import (
    METRIC_NAME_RE,
    ConditionError,
    short_repr,
    split_condition,
)


class Model(BaseModel):
    """Base of every spec section: unknown keys refused (a typo is never ignored), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

Task = Literal["binary", "multiclass", "regression"]
Role = Literal["train", "validation", "test", "reference"]
BelowThreshold = Literal["abstain", "fallback", "review"]
RetrainTrigger = Literal["drift", "performance", "schedule"]

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
WINDOW_RE = re.compile(r"^\d+(s|m|h|d)$|^\d+ rows$")
MODEL_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9][A-Za-z0-9_.-]*|/\d+)$")

#: (key path inside the model, message, bad value)
Problem = tuple[tuple[str | int, ...], str, Any]

SPEC_ERROR = "loopml_spec"


def spec_error(message: str) -> PydanticCustomError:
    # the text goes in as a context value: braces in user values are not template fields
    return PydanticCustomError(SPEC_ERROR, "{message}", {"message": message})


def raise_all(title: str, problems: Sequence[Problem]) -> None:
    """Raise every cross-field problem at once, each at its own key (and so its own line)."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=spec_error(message), loc=loc, input=value)
                for loc, message, value in problems
            ],
        )


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise spec_error(
            f"{short_repr(value)} is not a slug: use 1-64 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return value


def _column(value: str) -> str:
    if not value.strip():
        raise spec_error("a column name cannot be empty")
    return value


def _metric_name(value: str) -> str:
    if not METRIC_NAME_RE.match(value):
        raise spec_error(
            f"{short_repr(value)} is not a metric name: use letters, digits, '_', '-', '.', "
            "'/', ':' and spaces"
        )
    return value


def _between(low: float, high: float, *, low_open: bool, high_open: bool) -> AfterValidator:
    text = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(value: float) -> float:
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            raise spec_error(f"{value!r} is outside the allowed range {text}")
        return value

    return AfterValidator(check)


def _at_least(low: float) -> AfterValidator:
    def check(value: float) -> float:
        if value < low:
            raise spec_error(f"{value!r} is below the minimum {low:g}")
        return value

    return AfterValidator(check)


Slug = Annotated[str, Field(strict=True), AfterValidator(_slug)]
Column = Annotated[str, Field(strict=True), AfterValidator(_column)]
MetricName = Annotated[str, Field(strict=True), AfterValidator(_metric_name)]
OpenFraction = Annotated[float, Field(strict=True), _between(0, 1, low_open=True, high_open=True)]
Fraction = Annotated[float, Field(strict=True), _between(0, 1, low_open=True, high_open=False)]
NonNegative = Annotated[float, Field(strict=True), _at_least(0)]
Count = Annotated[int, Field(strict=True), _at_least(0)]


def _condition(value: Any) -> Any:
    """Check a condition's form (operator, number); the checks that need the metric's name
    run in :class:`Objectives` once every condition has this form."""
    try:
        split_condition(value)
    except ConditionError as exc:
        raise spec_error(str(exc)) from None
    return value


# Any, not str | float: a lax float would turn ``true`` into 1.0 before the check sees it
Condition = Annotated[Any, AfterValidator(_condition)]
