"""Step outputs as bytes, in a format chosen by type, so they can be stored content-addressed.

Every format is safe to load (no code runs at load) except pickle, which a step must opt in to
with ``trusted=True``. The same value always gives the same bytes (and so the same digest):
that is what makes the cache and "same seed, same artifacts" work.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput

# kind -> artifact file suffix; the suffix is how a stored output says how to load it back
SUFFIXES = {
    "frame": "frame.parquet",
    "series": "series.parquet",
    "estimator": "skops",
    "json": "json",
    "array": "npy",
    "pickle": "pkl",
}
LIBRARY_PREFIXES = ("sklearn.", "numpy.", "scipy.")  # as the model registry trusts them
_SERIES_COLUMN = "__loopml_series__"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Encoded:
    """An output ready to store: its bytes and the kind that reads them back."""

    data: bytes
    kind: str

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.kind]


def encode(value: Any, *, step: str, trusted: bool = False) -> Encoded:
    """Pick the safest format for ``value``; pickle only when the step is trusted."""
    kind = kind_of(value)
    if kind is None:
        if not trusted:
            raise InvalidInput(
                f"step {step!r} returned a {_type_name(value)}: loopml cannot store it safely; "
                "return a frame, array, estimator or JSON value, or mark the step "
                "trusted=True to use pickle"
            )
        kind = "pickle"
    try:
        return Encoded(_ENCODERS[kind](value, trusted), kind)
    except InvalidInput as exc:
        raise InvalidInput(f"step {step!r}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any library error means "cannot store this"
        if trusted and kind != "pickle":
            return Encoded(_pickle(value, trusted), "pickle")
        raise InvalidInput(
            f"step {step!r} returned a {_type_name(value)} that cannot be stored as {kind} "
            f"({type(exc).__name__}: {exc}); convert it (for example string column names for "
            "a frame), or mark the step trusted=True to use pickle"
        ) from exc


def decode(data: bytes, kind: str, *, trusted: bool = False) -> Any:
    """Rebuild a value written by :func:`encode`; pickle needs ``trusted=True``."""
    if kind not in _DECODERS:
        raise InvalidInput(f"unknown output kind {kind!r}; expected one of {sorted(SUFFIXES)}")
    return _DECODERS[kind](data, trusted)


def kind_from_path(path: str) -> str:
    """The kind of a stored output from its artifact path (``outputs/0.frame.parquet``)."""
    for kind, suffix in SUFFIXES.items():
        if path.endswith("." + suffix):
            return kind
    raise InvalidInput(f"artifact {path!r} is not a pipeline output (unknown suffix)")


def kind_of(value: Any) -> str | None:
    """The format for a value, or None when only pickle could store it."""
    if _is_json(value):
        return "json"
    module = type(value).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return "frame"
        if isinstance(value, pd.Series):
            return "series"
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray) and value.dtype != object:
            return "array"
        if isinstance(value, np.generic) and _is_json(value.item()):
            return "json"
    if _is_estimator(value):
        return "estimator"
    return None


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) in (list, tuple):
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _is_estimator(value: Any) -> bool:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    return isinstance(value, BaseEstimator)


# -- encoders -----------------------------------------------------------------------------
def _json_dump(value: Any, trusted: bool) -> bytes:
    if type(value).__module__ == "numpy":
        value = value.item()
    return json.dumps(_tag_tuples(value), separators=(",", ":"), allow_nan=True).encode()


def _tag_tuples(value: Any) -> Any:
    """Tuples come back as tuples: JSON has only arrays, so they travel tagged."""
    if type(value) is tuple:
        return {"__tuple__": [_tag_tuples(v) for v in value]}
    if type(value) is list:
        return [_tag_tuples(v) for v in value]
    if type(value) is dict:
        return {k: _tag_tuples(v) for k, v in value.items()}
    return value


def _untag(value: Any) -> Any:
    if type(value) is dict:
        if set(value) == {"__tuple__"} and type(value["__tuple__"]) is list:
            return tuple(_untag(v) for v in value["__tuple__"])
        return {k: _untag(v) for k, v in value.items()}
    if type(value) is list:
        return [_untag(v) for v in value]
    return value


def _frame_dump(value: Any, trusted: bool) -> bytes:
    buffer = io.BytesIO()
    value.to_parquet(buffer, engine="pyarrow")
    return buffer.getvalue()


def _series_dump(value: Any, trusted: bool) -> bytes:
    name = _SERIES_COLUMN if value.name is None else value.name
    if not isinstance(name, str):
        raise InvalidInput(f"a Series named {name!r} cannot be stored; give it a string name")
    return _frame_dump(value.to_frame(name=name), trusted)


def _array_dump(value: Any, trusted: bool) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return buffer.getvalue()


def _estimator_dump(value: Any, trusted: bool) -> bytes:
    from loopml.models.flavors import sklearn as sklearn_flavor
    from loopml.models.flavors import untrusted_types

    payload = _canonical_zip(sklearn_flavor.dump(value))
    unknown = [t for t in untrusted_types(payload, "sklearn") if not t.startswith(LIBRARY_PREFIXES)]
    if unknown and not trusted:
        raise InvalidInput(
            f"the estimator contains types loopml will not load unless trusted: "
            f"{', '.join(unknown)}; mark the step trusted=True"
        )
    return payload


def _canonical_zip(payload: bytes) -> bytes:
    """skops names array files and objects (``__id__``) after ``id()`` and stamps entries with
    the current time: renumber both in schema order and fix the time, so the same model gives
    the same bytes (and the same digest) on every run. Identity is kept: one id, one number."""
    source = zipfile.ZipFile(io.BytesIO(payload))
    names = [info.filename for info in source.infolist() if info.filename != "schema.json"]
    schema = json.loads(source.read("schema.json"))
    renamed: dict[str, str] = {}
    object_ids: dict[Any, int] = {}

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: object_ids.setdefault(value, len(object_ids))
                if key == "__id__"
                else rename(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [rename(value) for value in node]
        if isinstance(node, str) and node in names:
            if node not in renamed:
                suffix = node.rsplit(".", 1)[-1] if "." in node else "bin"
                renamed[node] = f"{len(renamed)}.{suffix}"
            return renamed[node]
        return node

    schema = rename(schema)
    for name in names:  # files the schema does not name keep a stable, content-based name
        if name not in renamed:
            renamed[name] = name
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        entries = [("schema.json", json.dumps(schema).encode())]
        entries += sorted((renamed[n], source.read(n)) for n in names)
        for filename, data in entries:
            entry = zipfile.ZipInfo(filename, date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, data)
    return out.getvalue()


def _pickle(value: Any, trusted: bool) -> bytes:
    import pickle

    if not trusted:
        raise InvalidInput("pickle needs a step marked trusted=True")
    return pickle.dumps(value, protocol=5)


# -- decoders -----------------------------------------------------------------------------
def _json_load(data: bytes, trusted: bool) -> Any:
    return _untag(json.loads(data))


def _frame_load(data: bytes, trusted: bool) -> Any:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def _series_load(data: bytes, trusted: bool) -> Any:
    frame = _frame_load(data, trusted)
    series = frame[frame.columns[0]]
    if series.name == _SERIES_COLUMN:
        series.name = None
    return series


def _array_load(data: bytes, trusted: bool) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _estimator_load(data: bytes, trusted: bool) -> Any:
    from loopml.models.flavors import load_model_bytes, untrusted_types

    needed = untrusted_types(data, "sklearn")
    allowed = needed if trusted else [t for t in needed if t.startswith(LIBRARY_PREFIXES)]
    return load_model_bytes(data, "sklearn", trusted_types=allowed)


def _pickle_load(data: bytes, trusted: bool) -> Any:
    import pickle

    if not trusted:
        raise InvalidInput(
            "this output was stored with pickle; loading it runs code, so it is only read "
            "for a step marked trusted=True"
        )
    return pickle.loads(data)  # noqa: S301 - the step is trusted and the digest was checked


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ != "builtins" else cls.__name__


_ENCODERS = {
    "json": _json_dump,
    "frame": _frame_dump,
    "series": _series_dump,
    "array": _array_dump,
    "estimator": _estimator_dump,
    "pickle": _pickle,
}
_DECODERS = {
    "json": _json_load,
    "frame": _frame_load,
    "series": _series_load,
    "array": _array_load,
    "estimator": _estimator_load,
    "pickle": _pickle_load,
}
