"""Turn the shapes users hand us (frames, arrays, dicts, records) into one pandas DataFrame.

Every later step (fingerprint, schema, profile, validation) can then assume a frame with
unique string column names and at least one column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput


def as_frame(data: Any, name: str = "data") -> pd.DataFrame:
    """Return ``data`` as a DataFrame with unique ``str`` column names.

    Accepts a DataFrame (returned as is when its names are already unique strings), a Series
    (one column), a 1-D or 2-D numpy array (columns ``"0"``, ``"1"``, ...), a dict of
    lists/arrays (columns) or a list of dicts (records). Anything else raises ``InvalidInput``
    naming ``name``, so the user knows which argument to fix.
    """
    frame = _to_frame(data, name)
    if frame.shape[1] == 0:
        raise InvalidInput(f"{name}: has no columns; pass at least one column of data")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.copy(deep=False)  # never rename the caller's frame in place
        frame.columns = [str(c) for c in frame.columns]
    require_unique_columns(frame, name)
    return frame


def require_unique_columns(df: pd.DataFrame, name: str = "data") -> None:
    """Raise ``InvalidInput`` when two columns share a name (compared as strings).

    Schemas and profiles are keyed by column name, so a duplicate would silently hide a column.
    """
    counts = Counter(str(c) for c in df.columns)
    dupes = sorted(n for n, k in counts.items() if k > 1)
    if dupes:
        listed = ", ".join(repr(d) for d in dupes)
        raise InvalidInput(
            f"{name}: duplicated column name(s) {listed}; rename the columns so each is unique"
        )


def require_int(field: str, value: int, *, minimum: int) -> None:
    """Raise ``InvalidInput`` unless ``value`` is an integer >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInput(f"{field}: must be an integer >= {minimum}, got {value!r}")


def _to_frame(data: Any, name: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=0 if data.name is None else data.name)
    if isinstance(data, np.ndarray):
        return _from_array(data, name)
    if isinstance(data, Mapping):
        return _build(dict(data), name, "a dict of equally long lists or arrays")
    if isinstance(data, list):
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise InvalidInput(
                    f"{name}: record {i} is a {type(row).__name__}, expected a dict "
                    "(a list must hold one dict per row)"
                )
        return _build(data, name, "a list of dicts")
    raise InvalidInput(
        f"{name}: cannot use a {type(data).__name__} as a table; pass a pandas DataFrame, a "
        "Series, a 1-D/2-D numpy array, a dict of lists or a list of dicts"
    )


def _from_array(arr: np.ndarray, name: str) -> pd.DataFrame:
    if arr.dtype.names:  # structured array: fields become columns
        return pd.DataFrame(arr)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidInput(f"{name}: numpy array has {arr.ndim} dimensions, expected 1 or 2")
    return pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])


def _build(data: Any, name: str, expected: str) -> pd.DataFrame:
    try:
        return pd.DataFrame(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{name}: cannot build a table ({exc}); expected {expected}") from exc
