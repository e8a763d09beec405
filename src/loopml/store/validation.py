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
