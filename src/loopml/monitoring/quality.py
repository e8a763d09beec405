"""Data quality of live traffic against the reference profile, plus what the services counted.

Per feature: the missing rate now vs in the reference (and the jump), the share of numeric
values outside the reference's [min, max], and the share of categories never seen in the
reference. The service's own counts (rows rejected by validation per column, unseen
categories and out-of-range values it flagged) come from its stored interval statistics.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.profile import OTHER


def data_quality(
    profile: dict[str, Any],
    current: pd.DataFrame,
    features: list[str],
    *,
    service_stats: list[Any] | None = None,
) -> dict[str, Any]:
    """Quality figures per feature; ``service`` sums what the prediction services counted."""
    columns: dict[str, Any] = {}
    ref_columns = profile.get("columns", {})
    for name in features:
        ref = ref_columns.get(name)
        if ref is None:
            columns[name] = {"problem": "not in the reference profile"}
            continue
        if name not in current.columns:
            columns[name] = {"problem": "missing from the logged inputs (PII dropped?)"}
            continue
        columns[name] = _column_quality(ref, current[name])
    return {"n_rows": int(len(current)), "columns": columns,
            "service": service_counts(service_stats or [])}


def service_counts(stats: list[Any]) -> dict[str, Any]:
    """Sum the validation counts the services stored with their interval statistics."""
    totals: dict[str, Counter[str]] = {}
    requests = rows = 0
    for snapshot in stats:
        requests += snapshot.requests
        rows += snapshot.rows
        for kind, per_column in (snapshot.quality or {}).items():
            totals.setdefault(kind, Counter()).update(per_column)
    return {"requests": requests, "rows": rows,
            **{kind: dict(counter) for kind, counter in totals.items()}}


def _column_quality(ref: dict[str, Any], values: pd.Series) -> dict[str, Any]:
    n = len(values)
    missing = values.isna()
    out: dict[str, Any] = {
        "kind": ref.get("kind"),
        "reference_missing_rate": float(ref.get("missing_rate") or 0.0),
        "missing_rate": float(missing.mean()) if n else 0.0,
    }
    out["missing_rate_jump"] = out["missing_rate"] - out["reference_missing_rate"]
    present = values[~missing]
    kind = ref.get("kind")
    if kind in ("numeric", "integer") and len(present):
        numbers = pd.to_numeric(present, errors="coerce")
        out["wrong_type_rate"] = float(numbers.isna().mean())
        low, high = ref.get("min"), ref.get("max")
        finite = numbers.dropna().to_numpy(dtype=float)
        outside = np.zeros(len(finite), dtype=bool)
        if isinstance(low, int | float):
            outside |= finite < low
        if isinstance(high, int | float):
            outside |= finite > high
        out["out_of_range_rate"] = float(outside.mean()) if len(finite) else 0.0
    elif kind in ("categorical", "boolean") and len(present):
        known = {str(k) for k in (ref.get("frequencies") or {})}
        if OTHER not in known:
            unseen = ~present.astype(str).isin(known)
            out["unseen_rate"] = float(unseen.mean())
            out["unseen_values"] = sorted(present[unseen].astype(str).unique().tolist())[:20]
    return out
