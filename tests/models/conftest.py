"""Each models test gets its own store and artifact root."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.tracking import state


@pytest.fixture(autouse=True)
def registry_store(sqlite_url: str, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    for name in ("LOOPML_STORE", "LOOPML_ARTIFACTS", "LOOPML_REGISTRY_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no loopml.yaml of the repo is found by accident
    artifacts = tmp_path / "artifacts"
    loopml.configure(store=sqlite_url, artifacts=str(artifacts))
    yield artifacts
    for run in reversed(list(state.active_runs)):
        with contextlib.suppress(Exception):
            run.end()
    loopml.configure()
    with state._lock:
        state._close_store()
