"""Each tracking test gets its own store and artifact root; nothing leaks between tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import loopml
from loopml.tracking import state


@dataclass(frozen=True)
class TrackingEnv:
    store_url: str
    artifacts: Path
    db_path: Path | None  # the SQLite file, None on PostgreSQL


def reset_tracking() -> None:
    """End any run a test left active, forget the configured store and close it."""
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    loopml.configure()
    with state._lock:
        state._close_store()


@pytest.fixture(autouse=True)
def tracking(sqlite_url: str, tmp_path: Path, monkeypatch) -> Iterator[TrackingEnv]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))  # never the repo's .loopml
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    artifacts = tmp_path / "artifacts"
    loopml.configure(store=sqlite_url, artifacts=str(artifacts))
    yield TrackingEnv(sqlite_url, artifacts, tmp_path / "loopml.db")
    reset_tracking()


@pytest.fixture
def any_store(store_url: str, tmp_path: Path) -> Iterator[TrackingEnv]:
    """The same test on SQLite and on PostgreSQL (closed before the schema is dropped)."""
    artifacts = tmp_path / "artifacts_any"
    loopml.configure(store=store_url, artifacts=str(artifacts))
    db_path = tmp_path / "loopml.db" if store_url.startswith("sqlite") else None
    yield TrackingEnv(store_url, artifacts, db_path)
    reset_tracking()


def _count_rows(table: str, where: str = "", **params: object) -> int:
    import sqlalchemy as sa

    engine = state.get_store().engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        query = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(conn.execute(sa.text(query), params).scalar_one())


@pytest.fixture
def count_rows() -> Callable[..., int]:
    """``count_rows(table, where="", **params)``: rows in a store table, read with plain SQL
    beside loopml's own queries (works on SQLite and PostgreSQL)."""
    return _count_rows


def _run_python(
    code: str | Path,
    env: TrackingEnv,
    *,
    cwd: Path,
    args: tuple[str, ...] = (),
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that tracks to the test's store."""
    child_env = {
        **os.environ,
        "LOOPML_STORE": env.store_url,
        "LOOPML_ARTIFACTS": str(env.artifacts),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.run(
        [sys.executable, *(["-c", code] if isinstance(code, str) else [str(code)]), *args],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code_or_script_path, env, cwd=..., args=())``: run Python in a fresh
    interpreter whose LOOPML_STORE / LOOPML_ARTIFACTS point at the test's store."""
    return _run_python
