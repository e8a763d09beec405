"""Shared fixtures: real SQLite and real PostgreSQL stores.

PostgreSQL runs on 127.0.0.1:5432 (trust auth, database ``test``). Each test gets its own
schema, dropped afterwards, so test sessions never see each other's rows. When the server
cannot be reached the PostgreSQL tests are skipped locally but FAIL when ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_BASE_URL = os.environ.get("LOOPML_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL schema (dropped after the test)."""
    try:
        import sqlalchemy as sa
    except ImportError as exc:  # pragma: no cover
        _pg_unavailable(str(exc))
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unavailable"
        _pg_unavailable(str(exc).splitlines()[0])
    try:
        yield f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLAlchemy URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'loopml.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request) -> str:
    """Runs the test once against SQLite and once against PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def configured_store(sqlite_url: str, tmp_path, monkeypatch) -> Iterator[str]:
    """loopml configured on a fresh SQLite store and artifact folder, in a clean cwd and env."""
    import loopml
    from loopml.tracking import state

    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_TOKEN", "LOOPML_PII_SALT",
                 "LOOPML_REGISTRY_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no loopml.yaml of the repo is found by accident
    loopml.configure(store=sqlite_url, artifacts=str(tmp_path / "artifacts"))
    yield sqlite_url
    loopml.configure()
    with state._lock:
        state._close_store()
