"""The real ``loopml`` command in a subprocess, with its own embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

LoopmlCli = Callable[..., subprocess.CompletedProcess]


def _run_loopml(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m loopml.cli.main ARGS`` in ``tmp_path``, its store under ``tmp_path/home``."""
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / "home")}
    env.pop("LOOPML_STORE", None)
    env.pop("LOOPML_ARTIFACTS", None)
    return subprocess.run(
        [sys.executable, "-m", "loopml.cli.main", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def loopml() -> LoopmlCli:
    return _run_loopml
