"""Small conversions shared by evaluation and fairness: labels, the positive class, and
numpy values made JSON-safe."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def labels_of(*arrays: np.ndarray) -> np.ndarray:
    joined = np.concatenate([np.asarray(a, dtype=object) for a in arrays])
    try:
        return np.asarray(sorted(set(joined.tolist())), dtype=object)
    except TypeError:
        return np.asarray(sorted(set(joined.tolist()), key=str), dtype=object)


def as_positive(values: np.ndarray, positive: Any) -> np.ndarray:
    """True where a label is the positive class."""
    values = np.asarray(values)
    flags = np.asarray(values == positive)
    if flags.shape != values.shape or flags.dtype != bool:  # numpy could not compare types
        flags = np.asarray([python(v) == positive for v in values], dtype=bool)
    return flags


def python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
