"""What a run was made with, captured without user code: Python, packages, git, command.

The package list costs ~0.2 s to read, so it is read once per process, in a background
thread, and attached to runs when ready; a run's start never waits for it.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None


@dataclass(frozen=True)
class Packages:
    text: str  # one "name==version" per line, sorted
    sha256: str


def python_version() -> str:
    return platform.python_version()


def command_line() -> str:
    return " ".join(sys.argv) if sys.argv and sys.argv[0] else "<interactive>"


def entry_point() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path:
        return os.path.abspath(path)
    return sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"


@lru_cache(maxsize=1)
def user_and_host() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "unknown"
    return user, socket.gethostname()


_GIT_TTL_S = 2.0
_git_cache: dict[str | None, tuple[float, GitState]] = {}


def git_state(cwd: str | None = None) -> GitState:
    """Commit and dirty flag of the repository around ``cwd``; (None, None) outside one.

    Cached for two seconds: a loop of many short runs pays for git once, while a notebook
    that commits or edits between runs still records the current state.
    """
    now = time.monotonic()
    cached = _git_cache.get(cwd)
    if cached is not None and now - cached[0] < _GIT_TTL_S:
        return cached[1]
    state = _read_git_state(cwd)
    _git_cache[cwd] = (now, state)
    return state


def _read_git_state(cwd: str | None) -> GitState:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return GitState(None, None)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return GitState(None, None)
    return GitState(head.stdout.strip() or None, bool(status.stdout.strip()))


def _read_packages() -> Packages:
    from importlib import metadata

    names = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            names.add(f"{name}=={dist.version}")
    text = "\n".join(sorted(names, key=str.lower)) + "\n"
    return Packages(text, hashlib.sha256(text.encode()).hexdigest())


class _PackageCapture:
    """Reads the package list once per process, in the background."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: Packages | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="loopml-packages", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        self._result = _read_packages()
        # The package list is stored through the artifact store, usually at run end; import
        # it now: at interpreter exit, fsspec's first import fails (it registers a
        # threading hook, refused after shutdown) and the last run's list would be lost.
        import loopml.artifacts  # noqa: F401

    def get(self, timeout: float | None = None) -> Packages | None:
        """The list if ready (waiting up to ``timeout`` seconds), else None."""
        self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        return self._result


packages = _PackageCapture()
