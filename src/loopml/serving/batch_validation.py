"""Validate a merged batch once, then hand each request its own problems back.

pandas' per-call overhead is paid once per batch instead of once per request. Problems come
back with instance numbers relative to each request. When the validator's capped lists could
hide one request's problems behind another's, each request is checked alone instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.models.signature import Signature, validate
from loopml.serving.payloads import problem

Problems = dict[int, list[dict[str, Any]]]


def validate_batch(
    signature: Signature, sizes: list[int], frame: pd.DataFrame, *, unseen_categories: str
) -> tuple[Problems, pd.DataFrame, Problems]:
    """Per-request problems, the valid rows (coerced), and per-request warnings.

    ``sizes`` are the row counts of the requests, in the order their rows fill ``frame``.
    """
    result = validate(signature, frame, unseen_categories=unseen_categories)
    if result.ok and not result.warnings:
        return {}, result.frame, {}
    offsets = np.cumsum([0, *sizes])
    if result.n_errors > len(result.errors) or len(result.warnings) >= 100:
        per_request = [
            validate(
                signature,
                frame.iloc[offsets[i] : offsets[i + 1]].reset_index(drop=True),
                unseen_categories=unseen_categories,
            )
            for i in range(len(sizes))
        ]
        rejected = {i: as_problems(r.errors) for i, r in enumerate(per_request) if not r.ok}
        warnings = {i: as_problems(r.warnings) for i, r in enumerate(per_request) if r.warnings}
    else:
        rejected = split_by_request(result.errors, offsets)
        warnings = split_by_request(result.warnings, offsets)
    if not rejected:
        return {}, result.frame, warnings
    keep = [np.arange(offsets[i], offsets[i + 1]) for i in range(len(sizes)) if i not in rejected]
    if not keep:
        return rejected, frame.iloc[:0], warnings
    again = validate(
        signature,
        frame.iloc[np.concatenate(keep)].reset_index(drop=True),
        unseen_categories=unseen_categories,
    )
    return rejected, again.frame, warnings


def split_by_request(issues: list[dict[str, Any]], offsets: np.ndarray) -> Problems:
    """Batch-level issues -> per-request lists with instance numbers relative to each."""
    out: Problems = {}
    n_requests = len(offsets) - 1
    for issue in issues:
        row = issue["row"]
        if row is None:
            for i in range(n_requests):
                out.setdefault(i, []).append(problem(None, issue["column"], issue["problem"]))
            continue
        i = int(np.searchsorted(offsets, row, side="right")) - 1
        out.setdefault(i, []).append(
            problem(int(row - offsets[i]), issue["column"], issue["problem"])
        )
    return out


def as_problems(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The validator's ``{row, column, problem}`` -> the 422 body's ``{instance, field, ...}``."""
    return [problem(i["row"], i["column"], i["problem"]) for i in issues]
