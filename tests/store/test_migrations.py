"""Schema migrations: loopml's own version table, in-place upgrades that keep data."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loopml.errors import StoreError
from loopml.store import migrate
from loopml.store.base import open_store
from loopml.store.engine import create_engine
from loopml.store.tables import metadata


def test_fresh_store_uses_own_version_table(store_url):
    store = open_store(store_url)
    tables = set(sa.inspect(store.engine).get_table_names())
    assert migrate.VERSION_TABLE in tables
    assert "alembic_version" not in tables
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
    store.close()


def test_migrations_produce_exactly_the_declared_tables(store_url):
    store = open_store(store_url)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [
            d
            for d in compare_metadata(context, metadata)
            if not (
                isinstance(d, tuple)
                and d[0] == "remove_table"
                and d[1].name == migrate.VERSION_TABLE
            )
        ]
    assert diff == []
    store.close()


def test_store_from_first_migration_upgrades_in_place_without_losing_data(store_url):
    engine = create_engine(store_url)
    migrate.upgrade(engine, target="0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO experiments (name, created_time) VALUES ('old', 1)"))
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time) "
                "VALUES ('r1', (SELECT experiment_id FROM experiments WHERE name = 'old'), "
                "'legacy', 'FINISHED', 5)"
            )
        )
        conn.execute(sa.text("INSERT INTO params (run_id, key, value) VALUES ('r1', 'C', '1')"))
        assert "artifacts" not in sa.inspect(conn).get_table_names()
    engine.dispose()

    store = open_store(store_url)  # opening an older store upgrades it
    run = store.get_run("r1")
    assert run.info.name == "legacy" and run.params == {"C": "1"}
    assert store.get_experiment("old").experiment_id == run.info.experiment_id
    assert "artifacts" in sa.inspect(store.engine).get_table_names()
    store.close()


def test_store_newer_than_this_loopml_is_refused(sqlite_url):
    store = open_store(sqlite_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="'9999'.*upgrade loopml"):
        open_store(sqlite_url)


def test_shares_a_database_with_another_alembic_user(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('someone_else')"))
    engine.dispose()
    store = open_store(sqlite_url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
            "someone_else"
        )
    store.close()
