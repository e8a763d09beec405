"""Writing and reading metric history in chunks; keeping ``latest_metrics`` current."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.store import metric_chunks as chunks
from loopml.store.entities import MetricSeries
from loopml.store.sql_upsert import upsert
from loopml.store.tables import latest_metrics, metric_chunks


def append(conn: Connection, batches: Sequence[MetricSeries]) -> None:
    """Append each batch as one new chunk and move the latest value forward if newer."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return
    next_seq = _next_seqs(conn, {(b.run_id, b.key) for b in batches})
    chunk_rows = []
    latest_rows = []
    for batch in batches:
        ident = (batch.run_id, batch.key)
        for lo in range(0, len(batch), chunks.MAX_CHUNK_POINTS):
            hi = lo + chunks.MAX_CHUNK_POINTS
            chunk_rows.append(_chunk_row(batch, next_seq[ident], lo, hi))
            next_seq[ident] += 1
        latest_rows.append(_latest_row(batch))
    conn.execute(metric_chunks.insert(), chunk_rows)
    _upsert_latest(conn, latest_rows)


def read(conn: Connection, run_id: str, key: str) -> MetricSeries | None:
    """The whole history of one metric, sorted by step; None if never logged."""
    rows = conn.execute(
        sa.select(metric_chunks.c.n, metric_chunks.c.data)
        .where(metric_chunks.c.run_id == run_id, metric_chunks.c.key == key)
        .order_by(metric_chunks.c.seq)
    ).all()
    if not rows:
        return None
    parts = [chunks.decode(row.data, row.n) for row in rows]
    steps, timestamps, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
    steps, timestamps, values = chunks.sort_points(steps, timestamps, values)
    return MetricSeries(run_id, key, steps, timestamps, values)


def keys(conn: Connection, run_id: str) -> list[str]:
    return list(
        conn.execute(
            sa.select(latest_metrics.c.key)
            .where(latest_metrics.c.run_id == run_id)
            .order_by(latest_metrics.c.key)
        ).scalars()
    )


def compact(conn: Connection, run_id: str) -> None:
    """Merge a run's many small flush-sized chunks into few large ones (done at run end)."""
    fragmented = conn.execute(
        sa.select(metric_chunks.c.key)
        .where(metric_chunks.c.run_id == run_id)
        .group_by(metric_chunks.c.key)
        .having(sa.func.count() > 1)
    ).scalars()
    for key in list(fragmented):
        series = read(conn, run_id, key)
        assert series is not None
        conn.execute(
            metric_chunks.delete().where(
                metric_chunks.c.run_id == run_id, metric_chunks.c.key == key
            )
        )
        rows = [
            _chunk_row(series, seq, lo, lo + chunks.MAX_CHUNK_POINTS)
            for seq, lo in enumerate(range(0, len(series), chunks.MAX_CHUNK_POINTS))
        ]
        conn.execute(metric_chunks.insert(), rows)


def _next_seqs(conn: Connection, idents: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    result = dict.fromkeys(idents, 0)
    by_run: dict[str, list[str]] = {}
    for run_id, key in idents:
        by_run.setdefault(run_id, []).append(key)
    for run_id, run_keys in by_run.items():
        for start in range(0, len(run_keys), 500):
            rows = conn.execute(
                sa.select(metric_chunks.c.key, sa.func.max(metric_chunks.c.seq))
                .where(
                    metric_chunks.c.run_id == run_id,
                    metric_chunks.c.key.in_(run_keys[start : start + 500]),
                )
                .group_by(metric_chunks.c.key)
            ).all()
            for key, max_seq in rows:
                result[(run_id, key)] = max_seq + 1
    return result


def _chunk_row(series: MetricSeries, seq: int, lo: int, hi: int) -> dict:
    steps = series.steps[lo:hi]
    return {
        "run_id": series.run_id,
        "key": series.key,
        "seq": seq,
        "n": int(steps.shape[0]),
        "min_step": int(steps.min()),
        "max_step": int(steps.max()),
        "data": chunks.encode(steps, series.timestamps[lo:hi], series.values[lo:hi]),
    }


def _latest_row(batch: MetricSeries) -> dict:
    i = chunks.latest_index(batch.steps, batch.timestamps)
    value = float(batch.values[i])
    is_nan = math.isnan(value)
    return {
        "run_id": batch.run_id,
        "key": batch.key,
        "value": None if is_nan else value,
        "is_nan": is_nan,
        "step": int(batch.steps[i]),
        "timestamp": int(batch.timestamps[i]),
    }


def _upsert_latest(conn: Connection, rows: list[dict]) -> None:
    # PostgreSQL refuses to update one row twice in one statement: keep the newest per key.
    newest: dict[tuple[str, str], dict] = {}
    for row in rows:
        ident = (row["run_id"], row["key"])
        old = newest.get(ident)
        if old is None or (row["step"], row["timestamp"]) >= (old["step"], old["timestamp"]):
            newest[ident] = row
    rows = list(newest.values())
    stmt = upsert(
        conn,
        latest_metrics,
        ("run_id", "key"),
        ("value", "is_nan", "step", "timestamp"),
        newer_step_only=True,
    )
    conn.execute(stmt, rows)
