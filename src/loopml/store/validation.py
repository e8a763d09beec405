"""Checks on names and values before anything is written.

They run at the call site (so the user sees the error where they made it) and again in
the store (so a server or another client cannot slip bad rows in).
"""

from __future__ import annotations

import math
import numbers
import re

from loopml.errors import InvalidInput

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
KEY_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_\-. /:]")


_valid_keys: set[str] = set()


def validate_key(kind: str, key: object) -> str:
    """A metric, param or tag key: 1-250 chars of letters, digits, ``_ - . / :`` and space."""
    if key in _valid_keys:  # hot path: log_metric with the same keys over and over
        return key  # type: ignore[return-value]
    if not isinstance(key, str):
        raise InvalidInput(f"{kind} key {key!r} must be a string, not {type(key).__name__}.")
    if not key or not key.strip():
        raise InvalidInput(f"{kind} key is empty; give it a name.")
    if len(key) > KEY_LENGTH:
        raise InvalidInput(
            f"{kind} key {key[:40]!r}... is {len(key)} characters long; the limit is {KEY_LENGTH}."
        )
    if not _KEY_RE.match(key):
        bad = _BAD_CHAR_RE.search(key)
        char = bad.group(0) if bad else "?"
        raise InvalidInput(
            f"{kind} key {key!r} contains the illegal character {char!r}; use letters, "
            "digits, '_', '-', '.', '/', ':' and spaces."
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def param_value(key: str, value: object) -> str:
    """Params are stored as text, at most 6,000 characters."""
    text = value if isinstance(value, str) else _to_text(value)
    if len(text) > PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param {key!r} value is {len(text)} characters long; the limit is "
            f"{PARAM_VALUE_LENGTH}. Log long values as an artifact instead."
        )
    return text


def tag_value(key: str, value: object) -> str:
    return value if isinstance(value, str) else _to_text(value)


def metric_value(key: str, value: object) -> float:
    """A real number; NaN and +-inf are legal and stored as such. Booleans are refused."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "shape", None) == ():
            return metric_value(key, value.item())  # numpy / torch 0-d
        raise InvalidInput(
            f"metric {key!r} value {value!r} is not a number ({type(value).__name__}); "
            "log numbers as metrics and text as params or tags."
        )
    try:
        result = float(value)
    except OverflowError:
        raise InvalidInput(
            f"metric {key!r} value is too large for a 64-bit float; scale it or log its log."
        ) from None
    if math.isnan(result):
        return math.nan
    return result


def step_value(key: str, step: object, what: str = "step") -> int:
    """A step or millisecond timestamp: an integer that fits in 64 bits."""
    if type(step) is int and _INT64_MIN <= step <= _INT64_MAX:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if hasattr(step, "item") and getattr(step, "shape", None) == ():
            return step_value(key, step.item(), what)
        raise InvalidInput(f"metric {key!r} {what} {step!r} must be an integer.")
    if not _INT64_MIN <= int(step) <= _INT64_MAX:
        raise InvalidInput(f"metric {key!r} {what} {step!r} does not fit in a 64-bit integer.")
    return int(step)


def _to_text(value: object) -> str:
    if value is None:
        return "None"
    return str(value)


_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


def model_name(name: object) -> str:
    """Model names appear in URIs (``name@alias``, ``name/3``): no ``@``, ``/`` or spaces."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"model name must be a non-empty string, not {name!r}.")
    if len(name) > KEY_LENGTH or not _MODEL_NAME_RE.match(name):
        raise InvalidInput(
            f"model name {name[:60]!r} is not allowed: use up to {KEY_LENGTH} letters, digits, "
            "'_', '-' and '.', starting with a letter or digit."
        )
    return name


def alias_name(alias: object) -> str:
    """Aliases start with a letter, so ``name@3`` can never be mistaken for a version."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput(f"alias must be a non-empty string, not {alias!r}.")
    if len(alias) > KEY_LENGTH or not _ALIAS_RE.match(alias):
        raise InvalidInput(
            f"alias {alias[:60]!r} is not allowed: start with a letter, then letters, digits, "
            "'_' or '-' (for example champion, challenger, staging)."
        )
    return alias


def version_number(version: object) -> int:
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(f"model version must be a positive integer, not {version!r}.")
    return version
