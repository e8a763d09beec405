"""Bring a store's schema to the newest revision, in place, at open.

loopml keeps its revision in its own table (``loopml_schema_version``), never Alembic's
default ``alembic_version``, so it can share a database with other Alembic users. The
common case (already current) costs one small query and never imports Alembic.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loopml.errors import StoreError
from loopml.store.engine import WRITE, is_sqlite

VERSION_TABLE = "loopml_schema_version"
HEAD = "0006"
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
_PG_MIGRATION_LOCK = 0x6C6F6F706D6C  # any constant: serialises migrations across processes


def current_revision(conn: Connection) -> str | None:
    """The store's revision, or None for an empty database."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine, target: str = HEAD) -> None:
    """Upgrade the store to ``target`` (default: newest). Safe to call from many processes."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        conn.rollback()
    _check_known(revision, engine)
    if revision == target:
        return
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if not is_sqlite(engine):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        if current_revision(conn) == target:  # another process did it while we waited
            return
        _run_alembic(conn, target)


def _check_known(revision: str | None, engine: Engine) -> None:
    if revision is not None and revision not in REVISIONS:
        raise StoreError(
            f"the store at {engine.url.render_as_string(hide_password=True)} is at schema "
            f"revision {revision!r}, newer than this loopml knows ({HEAD!r}); upgrade loopml."
        )


def _run_alembic(conn: Connection, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    command.upgrade(config, target)
