"""INSERT ... ON CONFLICT for both dialects (SQLite and PostgreSQL spell it the same way)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def insert(conn: Connection, table: sa.Table) -> Any:
    """A dialect-specific INSERT supporting ``on_conflict_do_nothing/_update``."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    return dialect_insert(table)
