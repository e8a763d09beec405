"""Process-wide tracking state: the open store, artifact store and writer, the stack of
active runs, and the exit hooks that end runs cleanly (finished, failed or killed).

The store follows ``LOOPML_STORE`` / ``LOOPML_ARTIFACTS`` as they are *now*, so changing
the environment (or calling ``configure``) switches stores without restarting Python.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import sys
import threading
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

from loopml import config

if TYPE_CHECKING:
    from loopml.artifacts import ArtifactStore
    from loopml.store.base import Store
    from loopml.tracking.run import Run
    from loopml.tracking.writer import MetricWriter

_lock = threading.RLock()
_overrides: dict[str, str] = {}
_store: Store | None = None
_store_uri: str | None = None
_writer: MetricWriter | None = None
_artifacts: ArtifactStore | None = None
_artifact_uri: str | None = None
active_runs: list[Run] = []
_hooks_installed = False
_sigterm_installed = False


def configure(store: str | None = None, artifacts: str | None = None) -> None:
    """Point tracking at another store or artifact root (else the environment decides)."""
    with _lock:
        for name, value in (("store", store), ("artifacts", artifacts)):
            if value is None:
                _overrides.pop(name, None)
            else:
                _overrides[name] = value


def store_uri() -> str:
    return _overrides.get("store") or config.settings().store_uri


def artifact_uri() -> str:
    return _overrides.get("artifacts") or config.settings().artifact_uri


def get_store() -> Store:
    global _store, _store_uri, _writer
    uri = store_uri()
    with _lock:
        if _store is None or uri != _store_uri:
            _close_store()
            from loopml.store.base import open_store
            from loopml.tracking.writer import MetricWriter

            _store = open_store(uri)
            _store_uri = uri
            _writer = MetricWriter(_store)
        return _store


def get_writer() -> MetricWriter:
    get_store()
    assert _writer is not None
    return _writer


def get_artifacts() -> ArtifactStore:
    global _artifacts, _artifact_uri
    uri = artifact_uri()
    with _lock:
        if _artifacts is None or uri != _artifact_uri:
            from loopml.artifacts import ArtifactStore

            _artifacts = ArtifactStore(uri)
            _artifact_uri = uri
        return _artifacts


def flush() -> None:
    """Write every buffered metric now."""
    with _lock:
        writer = _writer
    if writer is not None:
        writer.flush()


def _close_store() -> None:
    global _store, _writer
    if _writer is not None:
        try:
            _writer.close()
        finally:
            _writer = None
    if _store is not None:
        _store.close()
        _store = None


# -- ending runs when the process ends --------------------------------------------------
def install_exit_hooks() -> None:
    """Once per process: finish runs at exit, fail them on an uncaught exception, and mark
    them killed on SIGTERM (SIGINT arrives as KeyboardInterrupt, handled the same way)."""
    global _hooks_installed
    with _lock:
        if _hooks_installed:
            _install_sigterm()  # a first run in a worker thread could not install it
            return
        _hooks_installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _end_all(exc, "".join(traceback.format_exception(kind, exc, tb)))
        previous_hook(kind, exc, tb)

    sys.excepthook = excepthook
    _install_sigterm()


def _install_sigterm() -> None:
    """Only the main thread may set signal handlers; retried until one run starts there."""
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_installed = True
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _end_all(KeyboardInterrupt(), "terminated by SIGTERM")
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def _end_all(exc: BaseException | None, detail: str | None) -> None:
    for run in reversed(list(active_runs)):
        with contextlib.suppress(Exception):  # best effort while dying
            run._finish_with(exc, detail)


def _at_exit() -> None:
    _end_all(None, None)
    with contextlib.suppress(Exception):  # never raise from atexit
        _close_store()


def current_run() -> Run | None:
    with _lock:
        return active_runs[-1] if active_runs else None
