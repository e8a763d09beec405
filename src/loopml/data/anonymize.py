"""Pseudonymise or drop the PII columns a project names, before data is logged or shared.

Hashing is a salted HMAC-SHA256 of each value's text, so the same value and salt always give
the same token (joins across tables still work) while a small domain (emails, phone numbers)
cannot be recovered by hashing every candidate without the salt. Keep the salt secret and
stable: a new salt gives new tokens, which breaks joins with earlier outputs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import as_frame
from loopml.data.schema import is_text_dtype
from loopml.errors import InvalidInput

SALT_ENV = "LOOPML_PII_SALT"
METHODS = ("hash", "drop")


def anonymize(
    df: Any,
    pii: Sequence[str] | Mapping[str, str],
    *,
    salt: str | bytes | None = None,
    method: str = "hash",
    digest_size: int = 8,
) -> pd.DataFrame:
    """Return a copy of ``df`` with each PII column hashed or dropped; ``df`` is never changed.

    ``pii`` is a list of column names (each handled by ``method``), a mapping
    ``column -> "hash" | "drop"``, or an object with a ``pii`` list (a ``ProjectSpec``).
    ``salt`` defaults to the ``LOOPML_PII_SALT`` environment variable; hashing without one is
    refused. Tokens are ``2 * digest_size`` hex characters (16 by default); missing values
    stay missing. Values are hashed by their text, with integral floats written as integers,
    so ``42`` and ``42.0`` (an id column turned float by a missing value) give one token.
    """
    frame = as_frame(df, "anonymize: df")
    plan = _plan(frame, pii, method)
    result = frame.drop(columns=[c for c, how in plan.items() if how == "drop"])
    hashed = [c for c, how in plan.items() if how == "hash"]
    if hashed:
        key = resolve_salt(salt)
        tokens = {c: hash_series(frame[c], key, digest_size=digest_size) for c in hashed}
        result = result.assign(**tokens)
    return result


def hash_series(values: pd.Series, salt: str | bytes, *, digest_size: int = 8) -> pd.Series:
    """Salted HMAC-SHA256 tokens of ``values`` (same index and name); missing stays missing.

    Each distinct value is hashed once, so repeated values cost nothing extra.
    """
    key = salt.encode() if isinstance(salt, str) else bytes(salt)
    if not key:
        raise InvalidInput("anonymize: salt is empty; " + _SALT_HELP)
    if isinstance(digest_size, bool) or not isinstance(digest_size, int):
        raise InvalidInput(f"anonymize: digest_size must be an integer, got {digest_size!r}")
    if not 4 <= digest_size <= 32:
        raise InvalidInput(
            f"anonymize: digest_size is {digest_size} bytes; use 4 to 32 "
            "(8 gives 16 hex characters; fewer bytes risk two values sharing a token)"
        )
    n_hex = 2 * digest_size
    raw = values.to_numpy(dtype=object) if is_text_dtype(values.dtype) else values
    try:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): hash their text
        text = values.map(lambda v: v if _is_missing(v) else str(v)).to_numpy(dtype=object)
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
    distinct = uniques.tolist()
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        messages = [u.encode("utf-8", "surrogatepass") for u in distinct]
    else:
        messages = [_text(u) for u in distinct]
    tokens = np.append(_hmac_hex(key, messages, n_hex), None)
    out = tokens[codes]  # code -1 (missing) picks the trailing None
    missing = codes < 0
    if missing.any():  # keep the caller's own missing marker (None, NaN, NA, NaT)
        out[missing] = values.to_numpy(dtype=object)[missing]
    tokens_series = pd.Series(out, index=values.index, name=values.name)  # pandas' own text dtype
    if is_text_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return tokens_series.astype(values.dtype)  # a string column stays that string dtype
    return tokens_series


def _hmac_hex(key: bytes, messages: list[bytes], n_hex: int) -> np.ndarray:
    """HMAC-SHA256 (RFC 2104) hex tokens, the keyed inner and outer states computed once.

    Each token equals ``hmac.new(key, message, "sha256").hexdigest()[:n_hex]``; reusing the
    keyed states and hex-encoding all digests at once is about 3 times faster than ``hmac``.
    """
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy
    digests = []
    for message in messages:
        inner = inner_copy()
        inner.update(message)
        outer = outer_copy()
        outer.update(inner.digest())
        digests.append(outer.digest())
    table = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 32)
    text = table[:, : n_hex // 2].tobytes().hex().encode("ascii")
    return np.frombuffer(text, dtype=f"S{n_hex}").astype(f"U{n_hex}").astype(object)


def resolve_salt(salt: str | bytes | None) -> bytes:
    """The salt as bytes: the argument, else ``LOOPML_PII_SALT``; refuse to hash without one."""
    if salt is None:
        salt = os.environ.get(SALT_ENV) or None
    if salt is not None and not isinstance(salt, str | bytes):
        raise InvalidInput(f"anonymize: salt must be str or bytes, got {type(salt).__name__}")
    if not salt:
        raise InvalidInput("anonymize: no salt given. " + _SALT_HELP)
    return salt.encode() if isinstance(salt, str) else salt


_SALT_HELP = (
    "An unsalted hash of a small domain (emails, phone numbers) is reversible: anyone can hash "
    "every candidate and look the tokens up. Pass salt=... or set the environment variable "
    f"{SALT_ENV} to a long random secret (e.g. `python -c 'import secrets; "
    "print(secrets.token_hex(32))'`), keep it out of version control and reuse it so tokens "
    'stay joinable; or use method="drop".'
)


def _plan(frame: pd.DataFrame, pii: Any, method: str) -> dict[str, str]:
    """Column -> method, checked: known methods, columns that exist in ``frame``."""
    if not isinstance(pii, str | Mapping | Sequence) and isinstance(
        getattr(pii, "pii", None), list
    ):
        pii = pii.pii  # a ProjectSpec or anything with a ``pii`` list
    if method not in METHODS:
        raise InvalidInput(f"anonymize: method {method!r} is unknown; use one of {list(METHODS)}")
    if isinstance(pii, str):
        pii = [pii]
    if isinstance(pii, Mapping):
        plan = {str(c): m for c, m in pii.items()}
    elif pd.api.types.is_list_like(pii):
        plan = dict.fromkeys((str(c) for c in pii), method)
    else:
        raise InvalidInput(
            f"anonymize: pii must be a list of column names or a mapping column -> method, "
            f"got {type(pii).__name__}"
        )
    bad = {c: m for c, m in plan.items() if m not in METHODS}
    if bad:
        raise InvalidInput(f"anonymize: unknown method(s) {bad}; use one of {list(METHODS)}")
    unknown = [c for c in plan if c not in frame.columns]
    if unknown:
        raise InvalidInput(
            f"anonymize: PII column(s) {unknown} are not in the data; its columns are "
            f"{list(frame.columns)}"
        )
    return plan


def _text(value: Any) -> bytes:
    """The bytes a value is hashed by: its text, with integral floats written as integers."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).encode("utf-8", "surrogatepass")


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells are never "missing"
        return False
