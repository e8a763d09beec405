"""``SqlStore``: the Store on SQLite or PostgreSQL through SQLAlchemy Core.

Each public method is one transaction: it writes all or nothing. Metric history lives in
``sql_metrics``; search in ``sql_search``; this class holds experiments, runs, params, tags,
artifacts and datasets.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store import migrate, sql_metrics, sql_runs, sql_search, validation
from loopml.store.base import Store
from loopml.store.engine import WRITE, create_engine
from loopml.store.entities import (
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    MetricSeries,
    Run,
    RunInfo,
    RunStatus,
)
from loopml.store.sql_monitoring import SqlMonitoring
from loopml.store.sql_predictions import SqlPredictions
from loopml.store.sql_registry import SqlRegistry
from loopml.store.sql_schedules import SqlSchedules
from loopml.store.sql_upsert import insert_ignore, upsert
from loopml.store.tables import artifacts, datasets, experiments, params, run_datasets, runs
from loopml.store.tables import tags as tags_table

T = TypeVar("T")
_RETRIES = 5


def now_ms() -> int:
    return int(time.time() * 1000)


class SqlStore(SqlRegistry, SqlSchedules, SqlPredictions, SqlMonitoring, Store):
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = create_engine(uri)
        migrate.upgrade(self.engine)

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one write transaction; retry when a concurrent writer won a race."""
        for attempt in range(_RETRIES):
            try:
                with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    return work(conn)
            except sa.exc.IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
            except sa.exc.OperationalError as exc:
                if "deadlock" not in str(exc).lower() or attempt == _RETRIES - 1:
                    raise
            time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- experiments ----------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        validation.validate_key("experiment", name)

        def work(conn: Connection) -> Experiment:
            conn.execute(
                insert_ignore(conn, experiments, ("name",)),
                {"name": name, "created_time": now_ms()},
            )
            row = conn.execute(sa.select(experiments).where(experiments.c.name == name)).one()
            return Experiment(**row._mapping)

        return self._write(work)

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        column = experiments.c.experiment_id if isinstance(name_or_id, int) else experiments.c.name
        with self._read() as conn:
            row = conn.execute(sa.select(experiments).where(column == name_or_id)).first()
            if row is None:
                names = conn.execute(sa.select(experiments.c.name).limit(20)).scalars().all()
        if row is None:
            raise NotFound(
                f"experiment {name_or_id!r} does not exist"
                + (f"; known experiments: {', '.join(names)}." if names else "; none exist yet.")
            )
        return Experiment(**row._mapping)

    def list_experiments(self) -> list[Experiment]:
        with self._read() as conn:
            rows = conn.execute(sa.select(experiments).order_by(experiments.c.experiment_id))
            return [Experiment(**row._mapping) for row in rows]

    # -- runs -----------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        seed: int | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        entry_point: str | None = None,
        tags: dict[str, str] | None = None,
        start_time: int | None = None,
    ) -> RunInfo:
        if name is not None:
            validation.validate_key("run name", name)
        clean_tags = _clean_tags(tags or {})
        info = RunInfo(
            run_id=uuid.uuid4().hex,
            experiment_id=experiment_id,
            name=name,
            status=RunStatus.RUNNING,
            start_time=start_time if start_time is not None else now_ms(),
            parent_run_id=parent_run_id,
            seed=seed,
            git_commit=git_commit,
            git_dirty=git_dirty,
            entry_point=entry_point,
        )

        def work(conn: Connection) -> RunInfo:
            if (
                conn.execute(
                    sa.select(experiments.c.experiment_id).where(
                        experiments.c.experiment_id == experiment_id
                    )
                ).first()
                is None
            ):
                raise NotFound(f"experiment id {experiment_id} does not exist.")
            if parent_run_id is not None:
                sql_runs.require_run(conn, parent_run_id, what="parent run")
            conn.execute(runs.insert().values(**sql_runs.info_to_row(info)))
            sql_runs.upsert_tags(conn, info.run_id, clean_tags)
            return info

        return self._write(work)

    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        end_time: int | None = None,
        error: str | None = None,
        metrics: Sequence[MetricSeries] = (),
        artifacts: Sequence[ArtifactRecord] = (),
    ) -> RunInfo:
        status = RunStatus(status)
        for batch in metrics:
            validation.validate_key("metric", batch.key)

        def work(conn: Connection) -> RunInfo:
            ended = conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(status=status.value, end_time=end_time or now_ms(), error=error)
            )
            if ended.rowcount != 1:
                sql_runs.require_run(conn, run_id)  # raises NotFound with the usual message
            sql_metrics.append(conn, [b for b in metrics if b.run_id == run_id])
            if artifacts:
                _upsert_artifacts(conn, run_id, artifacts)
            sql_metrics.compact(conn, run_id)
            return sql_runs.read_info(conn, run_id)

        return self._write(work)

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            info = sql_runs.read_info(conn, run_id)
            return sql_runs.read_runs(conn, [info])[0]

    def find_runs_by_tag(
        self, key: str, value: str, *, status: RunStatus = RunStatus.FINISHED, limit: int = 5
    ) -> list[RunInfo]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(runs)
                .join(tags_table, tags_table.c.run_id == runs.c.run_id)
                .where(
                    tags_table.c.key == key,
                    tags_table.c.value == value,
                    runs.c.status == status.value,
                )
                .order_by(runs.c.start_time.desc(), runs.c.run_id)
                .limit(limit)
            )
            return [sql_runs.row_to_info(row) for row in rows]

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        with self._read() as conn:
            sql_runs.require_run(conn, run_id)
            rows = conn.execute(
                sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
            )
            return [ArtifactRecord(r.path, r.sha256, r.size, r.created_time) for r in rows]

    def log_params(self, run_id: str, params_: dict[str, str]) -> None:
        clean = {
            validation.validate_key("param", k): validation.param_value(k, v)
            for k, v in params_.items()
        }
        if not clean:
            return

        def work(conn: Connection) -> None:
            sql_runs.require_run(conn, run_id)
            conn.execute(
                insert_ignore(conn, params, ("run_id", "key")),
                [{"run_id": run_id, "key": k, "value": v} for k, v in clean.items()],
            )
            stored = dict(
                conn.execute(
                    sa.select(params.c.key, params.c.value).where(
                        params.c.run_id == run_id, params.c.key.in_(list(clean))
                    )
                ).all()
            )
            clashes = [(k, stored[k], v) for k, v in clean.items() if stored.get(k) != v]
            if clashes:
                detail = "; ".join(f"{k!r}: logged {old!r}, now {new!r}" for k, old, new in clashes)
                raise Conflict(
                    f"param already logged with a different value in run {run_id} ({detail}). "
                    "Params are fixed once logged: start a new run, or log the value as a "
                    "metric or tag. Nothing was written."
                )

        self._write(work)

    def set_tags(self, run_id: str, tags_: dict[str, str]) -> None:
        clean = _clean_tags(tags_)

        def work(conn: Connection) -> None:
            sql_runs.require_run(conn, run_id)
            sql_runs.upsert_tags(conn, run_id, clean)

        self._write(work)

    # -- metrics --------------------------------------------------------------------
    def log_metric_batches(self, batches: Sequence[MetricSeries]) -> None:
        for batch in batches:
            validation.validate_key("metric", batch.key)
        run_ids = {b.run_id for b in batches}

        def work(conn: Connection) -> None:
            for run_id in run_ids:
                sql_runs.require_run(conn, run_id)
            sql_metrics.append(conn, batches)

        self._write(work)

    def get_metric_history(self, run_id: str, key: str) -> MetricSeries:
        with self._read() as conn:
            sql_runs.require_run(conn, run_id)
            series = sql_metrics.read(conn, run_id, key)
            if series is None:
                known = sql_metrics.keys(conn, run_id)
        if series is None:
            raise NotFound(
                f"metric {key!r} was never logged in run {run_id}"
                + (f"; logged metrics: {', '.join(known)}." if known else "; it has no metrics.")
            )
        return series

    # -- artifacts and datasets -------------------------------------------------------
    def log_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        if not records:
            return

        def work(conn: Connection) -> None:
            sql_runs.require_run(conn, run_id)
            _upsert_artifacts(conn, run_id, records)

        self._write(work)

    def log_dataset(self, run_id: str, record: DatasetRecord, *, name: str, role: str) -> None:
        validation.validate_key("dataset name", name)
        validation.validate_key("dataset role", role)

        def work(conn: Connection) -> None:
            sql_runs.require_run(conn, run_id)
            conn.execute(
                insert_ignore(conn, datasets, ("fingerprint",)),
                {
                    "fingerprint": record.fingerprint,
                    "n_rows": record.n_rows,
                    "n_columns": record.n_columns,
                    "schema": json.dumps(record.schema),
                    "profile": json.dumps(record.profile),
                    "created_time": now_ms(),
                },
            )
            conn.execute(
                upsert(conn, run_datasets, ("run_id", "name", "role"), ("fingerprint",)),
                {"run_id": run_id, "fingerprint": record.fingerprint, "name": name, "role": role},
            )

        self._write(work)

    def get_dataset(self, fingerprint: str) -> DatasetRecord:
        with self._read() as conn:
            row = conn.execute(
                sa.select(datasets).where(datasets.c.fingerprint == fingerprint)
            ).first()
        if row is None:
            raise NotFound(f"no dataset with fingerprint {fingerprint!r} was logged.")
        return DatasetRecord(
            fingerprint=row.fingerprint,
            n_rows=row.n_rows,
            n_columns=row.n_columns,
            schema=json.loads(row.schema),
            profile=json.loads(row.profile),
        )

    # -- search ---------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Run]:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidInput(f"limit must be a positive integer, not {limit!r}.")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise InvalidInput(f"offset must be a non-negative integer, not {offset!r}.")
        query = sql_search.build_query(experiment_ids, filter, order_by, limit, offset)
        with self._read() as conn:
            infos = [sql_runs.row_to_info(row) for row in conn.execute(query)]
            return sql_runs.read_runs(conn, infos)

    def close(self) -> None:
        self.engine.dispose()


def _clean_tags(tags_: dict[str, str]) -> dict[str, str]:
    return {validation.validate_key("tag", k): validation.tag_value(k, v) for k, v in tags_.items()}


def _upsert_artifacts(conn: Connection, run_id: str, records: Sequence[ArtifactRecord]) -> None:
    created = now_ms()
    rows = [
        {
            "run_id": run_id,
            "path": r.path,
            "sha256": r.sha256,
            "size": r.size,
            "created_time": r.created_time or created,
        }
        for r in records
    ]
    stmt = upsert(conn, artifacts, ("run_id", "path"), ("sha256", "size", "created_time"))
    conn.execute(stmt, rows)
