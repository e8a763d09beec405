"""Model URIs: ``name@alias``, ``name/3``, or ``name`` (the latest version)."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.store import validation


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        if self.version:
            return f"{self.name}/{self.version}"
        return self.name


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``churn@champion``, ``churn/3`` or ``churn``; a bad URI names what is wrong."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(
            f"model URI must be 'name@alias', 'name/VERSION' or 'name', not {uri!r}."
        )
    text = uri.strip().removeprefix("models:/")
    if "@" in text:
        name, alias = text.split("@", 1)
        return ModelRef(validation.model_name(name), alias=validation.alias_name(alias))
    if "/" in text:
        name, version = text.split("/", 1)
        return ModelRef(validation.model_name(name), version=validation.version_number(version))
    return ModelRef(validation.model_name(text))
