"""The platform over time, from the statistics every prediction service stores.

Each service instance writes a snapshot every few seconds (requests, rows, errors by code,
latency percentiles, CPU, memory). Snapshots are grouped into time buckets across instances:
requests/s and error rate add up; latency percentiles are request-weighted means of the
instances' percentiles (an approximation: percentiles do not add, and the services keep no
shared histogram), CPU adds up, memory adds up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SERIES_COLUMNS = ("time", "requests_per_s", "error_rate", "p50_ms", "p95_ms", "p99_ms",
                  "cpu_percent", "rss_mb", "dropped_events")


def platform_series(stats: list[Any], *, bucket_s: float | None = None) -> pd.DataFrame:
    """One row per time bucket (default: the snapshots' own interval)."""
    if not stats:
        return pd.DataFrame(columns=list(SERIES_COLUMNS))
    rows = pd.DataFrame(
        {
            "time": [s.time for s in stats],
            "instance": [s.instance for s in stats],
            "interval_s": [s.interval_s for s in stats],
            "requests": [s.requests for s in stats],
            "errors": [sum((s.errors or {}).values()) for s in stats],
            "p50": [(s.latency_ms or {}).get("p50", np.nan) for s in stats],
            "p95": [(s.latency_ms or {}).get("p95", np.nan) for s in stats],
            "p99": [(s.latency_ms or {}).get("p99", np.nan) for s in stats],
            "cpu": [s.cpu_percent for s in stats],
            "rss": [s.rss_bytes for s in stats],
            "dropped": [s.dropped_events for s in stats],
        }
    )
    bucket_ms = int(1000 * (bucket_s or max(float(rows["interval_s"].median()), 1.0)))
    rows["bucket"] = rows["time"] // bucket_ms * bucket_ms
    out = []
    for bucket, group in rows.groupby("bucket", sort=True):
        requests = group["requests"].sum()
        seconds = group.groupby("instance")["interval_s"].sum().max()
        weights = group["requests"].to_numpy(dtype=float)
        out.append(
            {
                "time": int(bucket),
                "requests_per_s": float(requests / seconds) if seconds else 0.0,
                "error_rate": float(group["errors"].sum() / requests) if requests else 0.0,
                "p50_ms": _weighted(group["p50"], weights),
                "p95_ms": _weighted(group["p95"], weights),
                "p99_ms": _weighted(group["p99"], weights),
                "cpu_percent": float(group.groupby("instance")["cpu"].mean().sum()),
                "rss_mb": float(group.groupby("instance")["rss"].max().sum() / 2**20),
                "dropped_events": int(group.groupby("instance")["dropped"].max().sum()),
            }
        )
    return pd.DataFrame(out, columns=list(SERIES_COLUMNS))


def platform_summary(stats: list[Any]) -> dict[str, Any]:
    """Totals over the whole period: what the alert rules look at."""
    if not stats:
        return {"requests": 0, "note": "no service statistics in this period"}
    requests = sum(s.requests for s in stats)
    errors = sum(sum((s.errors or {}).values()) for s in stats)
    by_code: dict[str, int] = {}
    for s in stats:
        for code, n in (s.errors or {}).items():
            by_code[code] = by_code.get(code, 0) + n
    weights = np.array([s.requests for s in stats], dtype=float)

    def pct(key: str) -> float | None:
        values = pd.Series([(s.latency_ms or {}).get(key, np.nan) for s in stats])
        return _weighted(values, weights)

    return {
        "requests": int(requests),
        "errors": int(errors),
        "errors_by_code": by_code,
        "error_rate": errors / requests if requests else 0.0,
        "p50_ms": pct("p50"),
        "p95_ms": pct("p95"),
        "p99_ms": pct("p99"),
        "cpu_percent_max": float(max(s.cpu_percent for s in stats)),
        "rss_mb_max": float(max(s.rss_bytes for s in stats) / 2**20),
        "dropped_events": int(max(s.dropped_events for s in stats)),
        "instances": sorted({s.instance for s in stats}),
    }


def _weighted(values: pd.Series, weights: np.ndarray) -> float | None:
    v = values.to_numpy(dtype=float)
    ok = ~np.isnan(v) & (weights > 0)
    if not ok.any():
        return None
    return float(np.average(v[ok], weights=weights[ok]))
