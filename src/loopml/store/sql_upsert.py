"""INSERT ... ON CONFLICT for both dialects (SQLite and PostgreSQL spell it the same way).

The statements are built once per dialect and reused: SQLAlchemy spends ~1 ms building an
``on_conflict_do_update``, more than the write itself on SQLite. Callers pass the row
values at execution time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def _dialect_insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert(table)


@lru_cache(maxsize=64)
def _insert_ignore(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> Any:
    return _dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=list(keys))


@lru_cache(maxsize=64)
def _upsert(
    dialect: str, table: sa.Table, keys: tuple[str, ...], update: tuple[str, ...], newer: bool
) -> Any:
    stmt = _dialect_insert(dialect, table)
    where = None
    if newer:  # only move forward: a higher step, or the same step logged later
        where = sa.or_(
            stmt.excluded.step > table.c.step,
            sa.and_(
                stmt.excluded.step == table.c.step,
                stmt.excluded.timestamp >= table.c.timestamp,
            ),
        )
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: stmt.excluded[column] for column in update},
        where=where,
    )


def insert_ignore(conn: Connection, table: sa.Table, keys: tuple[str, ...]) -> Any:
    """INSERT that silently keeps the existing row when ``keys`` collide."""
    return _insert_ignore(conn.dialect.name, table, keys)


def upsert(
    conn: Connection,
    table: sa.Table,
    keys: tuple[str, ...],
    update: tuple[str, ...],
    *,
    newer_step_only: bool = False,
) -> Any:
    """INSERT that overwrites ``update`` columns when ``keys`` collide (optionally only when
    the new row has a later step/timestamp, for latest-value tables)."""
    return _upsert(conn.dialect.name, table, keys, update, newer_step_only)
