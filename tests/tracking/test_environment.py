"""What a run records about where it ran, with no user code: Python, command, packages, git."""

from __future__ import annotations

import hashlib
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import pytest

import loopml as ml

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_python_version_and_command_are_tags() -> None:
    with ml.start_run() as run:
        tags = ml.get_run(run.run_id).tags
        assert tags["loopml.python"] == platform.python_version()
        assert tags["loopml.command"]
        assert "loopml.packages_hash" not in tags  # attached when the run ends


def test_package_list_is_attached_when_the_run_ends() -> None:
    with ml.start_run() as run:
        pass
    stored = ml.get_run(run.run_id)
    assert "environment/requirements.txt" in {a.path for a in stored.artifacts}
    requirements = ml.get_artifact(run.run_id, "environment/requirements.txt")
    lines = requirements.decode().splitlines()
    assert f"loopml=={ml.__version__}" in lines
    assert any(line.lower().startswith("numpy==") for line in lines)
    assert stored.tags["loopml.packages_hash"] == hashlib.sha256(requirements).hexdigest()


CHILD = """
import sys
import loopml as ml

with ml.start_run(experiment="env", name=sys.argv[1]) as run:
    pass
print(run.run_id)
"""


def run_child(run_python, tracking, tmp_path: Path, cwd: Path, name: str) -> ml.Run:
    script = tmp_path / "train_child.py"  # outside the repository: it must not dirty it
    script.write_text(CHILD)
    done = run_python(script, tracking, cwd=cwd, args=(name, "--epochs", "3"))
    assert done.returncode == 0, done.stderr
    return ml.get_run(done.stdout.split()[-1])


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(
        command, cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@needs_git
def test_git_commit_and_dirty_flag_inside_a_repository(run_python, tracking, tmp_path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")

    clean = run_child(run_python, tracking, tmp_path, repo, "clean")
    assert clean.info.git_commit == head
    assert clean.info.git_dirty is False

    (repo / "train.py").write_text("print('v2')\n")  # a tracked file changes
    dirty = run_child(run_python, tracking, tmp_path, repo, "dirty")
    assert dirty.info.git_commit == head
    assert dirty.info.git_dirty is True

    # the command line and the script that ran are recorded too
    script = str(tmp_path / "train_child.py")
    assert dirty.tags["loopml.command"] == f"{script} dirty --epochs 3"
    assert dirty.info.entry_point == script


@needs_git
def test_outside_a_repository_git_is_none(monkeypatch, tmp_path) -> None:
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(outside)
    with ml.start_run() as run:
        pass
    info = ml.get_run(run.run_id).info
    assert info.git_commit is None
    assert info.git_dirty is None


def test_starting_a_run_is_cheap_after_the_first() -> None:
    with ml.start_run(experiment="speed"):
        pass
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        run = ml.start_run(experiment="speed")
        timings.append(time.perf_counter() - started)
        run.end()
    median = statistics.median(timings)
    print(f"start_run median over 20: {median * 1000:.1f} ms")
    assert median < 0.25  # a gross bound; the target is a few milliseconds
