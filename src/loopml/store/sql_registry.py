"""The model registry half of ``SqlStore``: versions, tags, aliases and their audit log.

Version numbers are 1, 2, 3... per model, allocated inside the write transaction (the
registered-model row is locked on PostgreSQL; SQLite writers are already serialised), so
two processes registering at once get distinct numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import NotFound
from loopml.store import validation
from loopml.store.entities import AliasEvent, ModelVersion, RegisteredModel
from loopml.store.sql_upsert import insert_ignore, upsert
from loopml.store.tables import (
    alias_events,
    model_aliases,
    model_version_tags,
    model_versions,
    registered_models,
)

T = TypeVar("T")


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


class SqlRegistry:
    """Mixed into SqlStore, which provides ``_read`` and ``_write``."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    def create_model_version(
        self,
        name: str,
        *,
        flavor: str,
        sha256: str,
        size: int,
        run_id: str | None = None,
        signature: dict[str, Any] | None = None,
        input_example_sha256: str | None = None,
        lineage: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        trusted_types: Sequence[str] = (),
        description: str | None = None,
        created_by: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        validation.model_name(name)
        clean_tags = {
            validation.validate_key("tag", k): validation.tag_value(k, v)
            for k, v in (tags or {}).items()
        }

        def work(conn: Connection) -> ModelVersion:
            from loopml.store import sql_runs

            if run_id is not None:
                sql_runs.require_run(conn, run_id)
            now = _now_ms()
            conn.execute(
                insert_ignore(conn, registered_models, ("name",)),
                {"name": name, "created_time": now, "description": None},
            )
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.select(registered_models.c.name)
                    .where(registered_models.c.name == name)
                    .with_for_update()
                )
            latest = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.name == name
                )
            ).scalar()
            version = (latest or 0) + 1
            conn.execute(
                model_versions.insert(),
                {
                    "name": name,
                    "version": version,
                    "created_time": now,
                    "run_id": run_id,
                    "flavor": flavor,
                    "sha256": sha256,
                    "size": size,
                    "signature": None if signature is None else json.dumps(signature),
                    "input_example_sha256": input_example_sha256,
                    "lineage": json.dumps(lineage or {}),
                    "metrics": json.dumps(_finite(metrics or {})),
                    "trusted_types": json.dumps(list(trusted_types)),
                    "description": description,
                    "created_by": created_by,
                },
            )
            _upsert_tags(conn, name, version, clean_tags)
            return _read_version(conn, name, version)

        return self._write(work)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        validation.model_name(name)
        version = validation.version_number(version)
        with self._read() as conn:
            return _read_version(conn, name, version)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validation.model_name(name)
        validation.alias_name(alias)
        with self._read() as conn:
            version = conn.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            if version is None:
                _require_model(conn, name)
                known = _aliases(conn, name)
                raise NotFound(
                    f"model {name!r} has no alias {alias!r}"
                    + (f"; its aliases: {', '.join(known)}." if known else "; it has no aliases.")
                )
            return _read_version(conn, name, version)

    def latest_model_version(self, name: str) -> ModelVersion:
        validation.model_name(name)
        with self._read() as conn:
            _require_model(conn, name)
            version = conn.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(
                    model_versions.c.name == name
                )
            ).scalar()
            return _read_version(conn, name, version)

    def list_models(self) -> list[RegisteredModel]:
        with self._read() as conn:
            latest = dict(
                conn.execute(
                    sa.select(
                        model_versions.c.name, sa.func.max(model_versions.c.version)
                    ).group_by(model_versions.c.name)
                ).all()
            )
            aliases: dict[str, dict[str, int]] = {}
            for name, alias, version in conn.execute(
                sa.select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version)
            ):
                aliases.setdefault(name, {})[alias] = version
            rows = conn.execute(sa.select(registered_models).order_by(registered_models.c.name))
            return [
                RegisteredModel(
                    name=row.name,
                    created_time=row.created_time,
                    description=row.description,
                    latest_version=latest.get(row.name),
                    aliases=dict(sorted(aliases.get(row.name, {}).items())),
                )
                for row in rows
            ]

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        validation.model_name(name)
        with self._read() as conn:
            _require_model(conn, name)
            numbers = conn.execute(
                sa.select(model_versions.c.version)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            ).scalars()
            return [_read_version(conn, name, n) for n in list(numbers)]

    def set_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None = None,
        reason: str | None = None,
        forced: bool = False,
    ) -> AliasEvent:
        validation.model_name(name)
        validation.alias_name(alias)
        version = validation.version_number(version)

        def work(conn: Connection) -> AliasEvent:
            _read_version(conn, name, version)  # NotFound for an unknown version
            previous = conn.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            now = _now_ms()
            conn.execute(
                upsert(conn, model_aliases, ("name", "alias"), ("version", "updated_time")),
                {"name": name, "alias": alias, "version": version, "updated_time": now},
            )
            event = AliasEvent(name, alias, previous, version, now, user, reason, forced)
            conn.execute(
                alias_events.insert(),
                {
                    "name": name,
                    "alias": alias,
                    "from_version": previous,
                    "to_version": version,
                    "time": now,
                    "user": user,
                    "reason": reason,
                    "forced": forced,
                },
            )
            return event

        return self._write(work)

    def alias_history(self, name: str) -> list[AliasEvent]:
        validation.model_name(name)
        with self._read() as conn:
            _require_model(conn, name)
            rows = conn.execute(
                sa.select(alias_events)
                .where(alias_events.c.name == name)
                .order_by(alias_events.c.time, alias_events.c.event_id)
            )
            return [
                AliasEvent(
                    r.name,
                    r.alias,
                    r.from_version,
                    r.to_version,
                    r.time,
                    r.user,
                    r.reason,
                    bool(r.forced),
                )
                for r in rows
            ]

    def set_model_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        clean = {
            validation.validate_key("tag", k): validation.tag_value(k, v) for k, v in tags.items()
        }

        def work(conn: Connection) -> None:
            _read_version(conn, name, validation.version_number(version))
            _upsert_tags(conn, name, version, clean)

        self._write(work)

    def set_model_description(self, name: str, description: str) -> None:
        def work(conn: Connection) -> None:
            _require_model(conn, name)
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(description=description)
            )

        self._write(work)


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    import math

    return {k: (None if v is None or math.isnan(v) else float(v)) for k, v in metrics.items()}


def _upsert_tags(conn: Connection, name: str, version: int, tags: dict[str, str]) -> None:
    if tags:
        conn.execute(
            upsert(conn, model_version_tags, ("name", "version", "key"), ("value",)),
            [{"name": name, "version": version, "key": k, "value": v} for k, v in tags.items()],
        )


def _require_model(conn: Connection, name: str) -> None:
    found = conn.execute(
        sa.select(registered_models.c.name).where(registered_models.c.name == name)
    ).first()
    if found is None:
        known = conn.execute(sa.select(registered_models.c.name).limit(20)).scalars().all()
        raise NotFound(
            f"model {name!r} is not registered"
            + (f"; registered models: {', '.join(known)}." if known else "; none are yet.")
        )


def _aliases(conn: Connection, name: str) -> list[str]:
    return list(
        conn.execute(
            sa.select(model_aliases.c.alias)
            .where(model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        ).scalars()
    )


def _read_version(conn: Connection, name: str, version: int) -> ModelVersion:
    row = conn.execute(
        sa.select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
    ).first()
    if row is None:
        _require_model(conn, name)
        numbers = (
            conn.execute(
                sa.select(model_versions.c.version)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            )
            .scalars()
            .all()
        )
        raise NotFound(
            f"model {name!r} has no version {version}; its versions: "
            f"{', '.join(map(str, numbers))}."
        )
    tags = dict(
        conn.execute(
            sa.select(model_version_tags.c.key, model_version_tags.c.value).where(
                model_version_tags.c.name == name, model_version_tags.c.version == version
            )
        ).all()
    )
    aliases = list(
        conn.execute(
            sa.select(model_aliases.c.alias)
            .where(model_aliases.c.name == name, model_aliases.c.version == version)
            .order_by(model_aliases.c.alias)
        ).scalars()
    )
    metrics = {k: (float("nan") if v is None else v) for k, v in json.loads(row.metrics).items()}
    return ModelVersion(
        name=row.name,
        version=row.version,
        created_time=row.created_time,
        flavor=row.flavor,
        sha256=row.sha256,
        size=row.size,
        run_id=row.run_id,
        signature=None if row.signature is None else json.loads(row.signature),
        input_example_sha256=row.input_example_sha256,
        lineage=json.loads(row.lineage),
        metrics=metrics,
        trusted_types=json.loads(row.trusted_types),
        description=row.description,
        created_by=row.created_by,
        tags=tags,
        aliases=aliases,
    )
