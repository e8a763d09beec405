"""Turn pydantic's validation errors into problems a user can act on: the line, the key
path, the bad value, and what is allowed (the choices of an enum, the keys of a section
with a "did you mean" for a typo)."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from loopml.project.fields import SPEC_ERROR
from loopml.project.objectives import short_repr
from loopml.project.problems import SpecProblem, format_path
from loopml.project.schema import ProjectSpec
from loopml.project.yaml_source import YamlDocument

_EXPECTED = {
    "string_type": "a string",
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def explain(exc: ValidationError, document: YamlDocument) -> list[SpecProblem]:
    """One :class:`SpecProblem` per pydantic error, located in ``document``."""
    return [_problem(error, document) for error in exc.errors()]


def _problem(error: Any, document: YamlDocument) -> SpecProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    path = format_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(loc[:-1])
        guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]!r}?" if guess else "."
        message = f"unknown key {key!r}{hint} Allowed keys: {', '.join(allowed)}"
        return SpecProblem(document.line_of(loc, at_key=True), path, message)
    if kind == "missing":
        message = "this required key is missing"
    elif kind == "literal_error":
        choices = literal_choices(loc) or [error.get("ctx", {}).get("expected", "?")]
        message = f"{short_repr(value)} is not allowed; choose one of: {', '.join(choices)}"
    elif kind == SPEC_ERROR:
        message = error["msg"]
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {short_repr(value)}"
        keys = allowed_keys(loc)
        if kind in ("model_type", "dict_type", "model_attributes_type") and keys:
            message += f"; the keys here are: {', '.join(keys)}"
    else:
        text = str(error["msg"])
        message = f"{text[:1].lower()}{text[1:]} (got {short_repr(value)})"
    return SpecProblem(document.line_of(loc), path, message)


def allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the section at ``loc`` accepts ([] when it is open or not a section)."""
    annotation = _annotation_at(loc)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def literal_choices(loc: tuple[str | int, ...]) -> list[str]:
    annotation = _annotation_at(loc)
    if get_origin(annotation) is Literal:
        return [str(choice) for choice in get_args(annotation)]
    return []


def _annotation_at(loc: tuple[str | int, ...]) -> Any:
    """Follow ``loc`` through the models' field types (dicts and lists step over a key)."""
    annotation: Any = ProjectSpec
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        else:
            return None
    return _unwrap(annotation)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
