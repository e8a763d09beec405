"""Create SQLAlchemy engines that are safe for many processes at once.

SQLite: WAL journal (readers never block the writer), a 60 s busy timeout, foreign keys
on, and ``BEGIN IMMEDIATE`` for write transactions. A deferred transaction that reads and
then writes can fail with "database is locked" without ever waiting (SQLite cannot upgrade
its lock without risking deadlock); taking the write lock at BEGIN makes writers queue on
the busy timeout instead. PostgreSQL needs nothing special.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loopml.errors import StoreError

BUSY_TIMEOUT_S = 60.0
WRITE = {"loopml_write": True}


def create_engine(url: str) -> Engine:
    """An engine for ``url``; creates the folder of a SQLite file if needed."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types here
        raise StoreError(
            f"LOOPML_STORE {url!r} is not a database URL: {exc}. "
            "Use sqlite:///path/loopml.db or postgresql+psycopg://user@host/db."
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise StoreError(
        f"LOOPML_STORE {url!r}: backend {parsed.get_backend_name()!r} is not supported; "
        "use sqlite:/// or postgresql+psycopg://."
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    engine = sa.create_engine(url, connect_args=connect_args)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are wrong for us).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("loopml_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
