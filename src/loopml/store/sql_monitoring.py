"""The monitoring half of ``SqlStore``: reference profiles of versions, and alert episodes.

An alert is de-duplicated while it stays open: firing the same rule again updates the open
row (last seen, count, evidence) in the same transaction that looks it up, so two monitors
racing never open the same alert twice on PostgreSQL (row lock) or SQLite (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import InvalidInput, NotFound
from loopml.store import validation
from loopml.store.entities import ALERT_SEVERITIES, ALERT_STATUSES, Alert, ModelReference
from loopml.store.tables import alerts, model_references, model_versions


class SqlMonitoring:
    """Mixed into SqlStore, which provides ``_read`` and ``_write``."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    # -- references -------------------------------------------------------------------
    def set_model_reference(self, reference: ModelReference) -> ModelReference:
        validation.model_name(reference.name)
        for what, value in (("rows", reference.rows), ("sample_rows", reference.sample_rows)):
            if not isinstance(value, int) or value < 0:
                raise InvalidInput(f"model reference {what}: a count >= 0, got {value!r}")
        row = {
            "name": reference.name,
            "version": reference.version,
            "created_time": reference.created_time or _now_ms(),
            "profile_sha256": reference.profile_sha256,
            "sample_sha256": reference.sample_sha256,
            "rows": reference.rows,
            "sample_rows": reference.sample_rows,
            "target": reference.target,
            "details": orjson.dumps(reference.details, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
        }

        def work(conn: Connection) -> ModelReference:
            exists = conn.execute(
                sa.select(model_versions.c.version).where(
                    model_versions.c.name == reference.name,
                    model_versions.c.version == reference.version,
                )
            ).first()
            if exists is None:
                raise NotFound(f"model version {reference.name}/{reference.version} does not exist")
            conn.execute(
                model_references.delete().where(
                    model_references.c.name == reference.name,
                    model_references.c.version == reference.version,
                )
            )
            conn.execute(model_references.insert(), row)
            return ModelReference(**{**row, "details": reference.details})

        return self._write(work)

    def get_model_reference(self, name: str, version: int) -> ModelReference:
        query = sa.select(model_references).where(
            model_references.c.name == validation.model_name(name),
            model_references.c.version == version,
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(
                f"model {name}/{version} has no reference profile: register it with "
                "training_data=... (or reference_data=...) so monitoring has a baseline, or "
                "pass a reference frame to drift_report"
            )
        return ModelReference(**{**row, "details": orjson.loads(row["details"])})

    # -- alerts -----------------------------------------------------------------------
    def fire_alert(
        self,
        model: str,
        rule: str,
        *,
        severity: str,
        message: str,
        evidence: dict[str, Any],
        now: int | None = None,
    ) -> tuple[Alert, bool]:
        validation.model_name(model)
        validation.validate_key("alert rule", rule)
        if severity not in ALERT_SEVERITIES:
            raise InvalidInput(
                f"alert severity: one of {', '.join(ALERT_SEVERITIES)}, got {severity!r}"
            )
        stamp = now if now is not None else _now_ms()
        payload = orjson.dumps(evidence, option=orjson.OPT_SERIALIZE_NUMPY).decode()

        def work(conn: Connection) -> tuple[Alert, bool]:
            query = sa.select(alerts).where(
                alerts.c.model == model, alerts.c.rule == rule, alerts.c.status == "open"
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                values = {
                    "model": model, "rule": rule, "status": "open", "severity": severity,
                    "opened_time": stamp, "last_seen_time": stamp, "resolved_time": None,
                    "count": 1, "message": message, "evidence": payload,
                }
                alert_id = conn.execute(alerts.insert().returning(alerts.c.alert_id),
                                        values).scalar_one()
                return _alert({**values, "alert_id": alert_id}), True
            values = {"last_seen_time": stamp, "count": row["count"] + 1, "message": message,
                      "evidence": payload, "severity": severity}
            conn.execute(alerts.update().where(alerts.c.alert_id == row["alert_id"]), values)
            return _alert({**row, **values}), False

        return self._write(work)

    def resolve_alert(self, model: str, rule: str, *, now: int | None = None) -> Alert | None:
        validation.model_name(model)
        stamp = now if now is not None else _now_ms()

        def work(conn: Connection) -> Alert | None:
            row = conn.execute(
                sa.select(alerts).where(
                    alerts.c.model == model, alerts.c.rule == rule, alerts.c.status == "open"
                )
            ).mappings().first()
            if row is None:
                return None
            values = {"status": "resolved", "resolved_time": stamp}
            conn.execute(alerts.update().where(alerts.c.alert_id == row["alert_id"]), values)
            return _alert({**row, **values})

        return self._write(work)

    def list_alerts(
        self, model: str | None = None, *, status: str | None = None, limit: int = 1000
    ) -> list[Alert]:
        query = sa.select(alerts)
        if model is not None:
            query = query.where(alerts.c.model == validation.model_name(model))
        if status is not None:
            if status not in ALERT_STATUSES:
                raise InvalidInput(
                    f"alert status: one of {', '.join(ALERT_STATUSES)}, got {status!r}"
                )
            query = query.where(alerts.c.status == status)
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit: a positive count, got {limit!r}")
        query = query.order_by(alerts.c.last_seen_time.desc(), alerts.c.alert_id.desc())
        with self._read() as conn:
            return [_alert(row) for row in conn.execute(query.limit(limit)).mappings()]


def _alert(row: Any) -> Alert:
    data = dict(row)
    evidence = data["evidence"]
    data["evidence"] = orjson.loads(evidence) if isinstance(evidence, str) else evidence
    return Alert(**data)


def _now_ms() -> int:
    return int(time.time() * 1000)
