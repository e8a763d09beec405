"""The AST of the run filter language: frozen dataclasses, compared without positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["metrics", "params", "tags", "attributes"]

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "seed", "experiment_id"})
TEXT_ATTRIBUTES = frozenset({"status", "name", "run_id", "parent_run_id", "git_commit"})


@dataclass(frozen=True)
class Key:
    """``metrics.auc`` -> Key("metrics", "auc"); attribute names are canonical."""

    kind: Kind
    name: str
    position: int = field(default=0, compare=False)

    @property
    def is_numeric(self) -> bool:
        return self.kind == "metrics" or (
            self.kind == "attributes" and self.name in NUMERIC_ATTRIBUTES
        )


@dataclass(frozen=True)
class Value:
    """A literal already coerced to the key's type (text for params, float for metrics...)."""

    value: str | float | int
    text: str = field(default="", compare=False)
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Comparison:
    key: Key
    op: str  # = != < <= > >= LIKE ILIKE
    value: Value


@dataclass(frozen=True)
class InList:
    key: Key
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``IS NULL``: the key was never logged (or the attribute is unset)."""

    key: Key
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr = Comparison | InList | IsNull | And | Or


@dataclass(frozen=True)
class OrderKey:
    key: Key
    descending: bool = False
