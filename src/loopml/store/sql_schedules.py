"""The schedules half of ``SqlStore``: add, list, remove, and claim due runs atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.errors import Conflict, NotFound
from loopml.store import validation
from loopml.store.entities import Schedule
from loopml.store.tables import schedules


class SqlSchedules:
    """Mixed into SqlStore, which provides ``_read`` and ``_write``."""

    _write: Callable[..., Any]
    _read: Callable[..., Any]

    def add_schedule(self, schedule: Schedule) -> Schedule:
        validation.validate_key("schedule", schedule.name)

        def work(conn: Connection) -> Schedule:
            exists = conn.execute(
                sa.select(schedules.c.name).where(schedules.c.name == schedule.name)
            ).first()
            if exists is not None:
                raise Conflict(
                    f"schedule {schedule.name!r} already exists; remove it first "
                    "(loopml schedule remove) or pick another name."
                )
            row = dict(schedule.__dict__)
            row["params"] = json.dumps(schedule.params)
            conn.execute(schedules.insert(), row)
            return schedule

        return self._write(work)

    def get_schedule(self, name: str) -> Schedule:
        with self._read() as conn:
            row = conn.execute(sa.select(schedules).where(schedules.c.name == name)).first()
            if row is None:
                names = conn.execute(sa.select(schedules.c.name)).scalars().all()
        if row is None:
            raise NotFound(
                f"schedule {name!r} does not exist"
                + (f"; schedules: {', '.join(names)}." if names else "; none exist yet.")
            )
        return _schedule(row)

    def list_schedules(self) -> list[Schedule]:
        with self._read() as conn:
            rows = conn.execute(sa.select(schedules).order_by(schedules.c.name))
            return [_schedule(row) for row in rows]

    def remove_schedule(self, name: str) -> None:
        self.get_schedule(name)

        def work(conn: Connection) -> None:
            conn.execute(schedules.delete().where(schedules.c.name == name))

        self._write(work)

    def claim_schedule(self, name: str, expected_next: int, following_next: int) -> bool:
        """Mark a due schedule running and move its next time forward, if nobody else did:
        True means this caller must run it now."""

        def work(conn: Connection) -> bool:
            result = conn.execute(
                schedules.update()
                .where(
                    schedules.c.name == name,
                    schedules.c.next_run_time == expected_next,
                    schedules.c.running.is_(False),
                )
                .values(next_run_time=following_next, running=True)
            )
            return result.rowcount == 1

        return self._write(work)

    def finish_schedule_run(
        self, name: str, *, started: int, status: str, run_id: str | None, error: str | None
    ) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                schedules.update()
                .where(schedules.c.name == name)
                .values(
                    running=False,
                    last_run_time=started,
                    last_status=status,
                    last_run_id=run_id,
                    last_error=error,
                )
            )

        self._write(work)


def _schedule(row: Any) -> Schedule:
    data = dict(row._mapping)
    data["params"] = json.loads(data["params"])
    data["running"] = bool(data["running"])
    data["catch_up"] = bool(data["catch_up"])
    return Schedule(**data)
