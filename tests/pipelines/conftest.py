"""Each pipelines test gets its own store and artifact root (a real SQLite store)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.tracking import state


@pytest.fixture(autouse=True)
def pipeline_store(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    artifacts = tmp_path / "a"
    loopml.configure(store=f"sqlite:///{tmp_path}/l.db", artifacts=str(artifacts))
    yield artifacts
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    loopml.configure()
    with state._lock:
        state._close_store()


@pytest.fixture
def child_runs():
    """Step runs of a pipeline run, by node name (``loopml.node`` tag)."""

    def find(parent_run_id: str) -> dict[str, object]:
        state.flush()
        runs = state.get_store().search_runs(
            None, f"attributes.parent_run_id = '{parent_run_id}'", limit=1000
        )
        return {run.tags["loopml.node"]: run for run in runs}

    return find
