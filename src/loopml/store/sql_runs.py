"""Reading runs (with their params, metrics, tags, artifacts, datasets) in bulk."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import NotFound
from loopml.store.entities import (
    ArtifactRecord,
    DatasetLink,
    LatestMetric,
    Run,
    RunInfo,
    RunStatus,
)
from loopml.store.sql_upsert import upsert
from loopml.store.tables import artifacts, latest_metrics, params, run_datasets, runs, tags

_BATCH = 500  # ids per IN (...) list: far below SQLite's variable limit


def info_to_row(info: RunInfo) -> dict[str, Any]:
    row = dict(info.__dict__)
    row["status"] = info.status.value
    return row


def row_to_info(row: Any) -> RunInfo:
    data = dict(row._mapping)
    data["status"] = RunStatus(data["status"])
    return RunInfo(**data)


# Built once: constructing a statement costs more than running it on SQLite.
_RUN_EXISTS = sa.select(runs.c.run_id).where(runs.c.run_id == sa.bindparam("run_id"))
_RUN_ROW = sa.select(runs).where(runs.c.run_id == sa.bindparam("run_id"))


def require_run(conn: Connection, run_id: str, what: str = "run") -> None:
    if not isinstance(run_id, str) or conn.execute(_RUN_EXISTS, {"run_id": run_id}).first() is None:
        raise NotFound(f"{what} {run_id!r} does not exist; check the id (loopml runs list).")


def read_info(conn: Connection, run_id: str) -> RunInfo:
    row = conn.execute(_RUN_ROW, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist; check the id (loopml runs list).")
    return row_to_info(row)


def upsert_tags(conn: Connection, run_id: str, values: dict[str, str]) -> None:
    if not values:
        return
    conn.execute(
        upsert(conn, tags, ("run_id", "key"), ("value",)),
        [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()],
    )


def read_runs(conn: Connection, infos: Sequence[RunInfo]) -> list[Run]:
    """Attach params, latest metrics, tags, artifacts and datasets to each run (5 queries
    per 500 runs, never one per run)."""
    ids = [info.run_id for info in infos]
    got_params: dict[str, dict[str, str]] = {i: {} for i in ids}
    got_metrics: dict[str, dict[str, LatestMetric]] = {i: {} for i in ids}
    got_tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    got_artifacts: dict[str, list[ArtifactRecord]] = {i: [] for i in ids}
    got_datasets: dict[str, list[DatasetLink]] = {i: [] for i in ids}
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        for run_id, key, value in conn.execute(
            sa.select(params.c.run_id, params.c.key, params.c.value).where(
                params.c.run_id.in_(part)
            )
        ):
            got_params[run_id][key] = value
        for row in conn.execute(sa.select(latest_metrics).where(latest_metrics.c.run_id.in_(part))):
            value = math.nan if row.is_nan else row.value
            got_metrics[row.run_id][row.key] = LatestMetric(value, row.step, row.timestamp)
        for run_id, key, value in conn.execute(
            sa.select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(part))
        ):
            got_tags[run_id][key] = value
        for row in conn.execute(
            sa.select(artifacts).where(artifacts.c.run_id.in_(part)).order_by(artifacts.c.path)
        ):
            got_artifacts[row.run_id].append(
                ArtifactRecord(row.path, row.sha256, row.size, row.created_time)
            )
        for row in conn.execute(sa.select(run_datasets).where(run_datasets.c.run_id.in_(part))):
            got_datasets[row.run_id].append(DatasetLink(row.name, row.role, row.fingerprint))
    return [
        Run(
            info=info,
            params=got_params[info.run_id],
            metrics=dict(sorted(got_metrics[info.run_id].items())),
            tags=got_tags[info.run_id],
            artifacts=got_artifacts[info.run_id],
            datasets=got_datasets[info.run_id],
        )
        for info in infos
    ]
