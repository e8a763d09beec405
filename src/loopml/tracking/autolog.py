"""``ml.autolog()``: record every scikit-learn ``fit`` without changing the user's code.

Each outermost ``fit`` (not the inner fits of a Pipeline or a grid search) logs the
estimator's params, its fit time and its training score. Inside an active run the first
fit logs into that run and later ones become child runs (params are fixed once logged);
with no active run each fit gets a run of its own.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from typing import Any

log = logging.getLogger("loopml.tracking")
_state = threading.local()
_patched: dict[type, Any] = {}


def autolog(disable: bool = False) -> None:
    """Patch (or with ``disable=True`` restore) ``fit`` on every scikit-learn estimator."""
    from sklearn.utils import all_estimators

    if disable:
        for cls, original in _patched.items():
            cls.fit = original
        _patched.clear()
        return
    for _name, cls in all_estimators():
        # patch the class that defines the fit an estimator uses: many inherit it
        # (RandomForestClassifier from BaseForest, GridSearchCV from BaseSearchCV)
        owner = next((c for c in cls.__mro__ if "fit" in c.__dict__), None)
        if owner is None or owner in _patched or not inspect.isfunction(owner.__dict__["fit"]):
            continue
        _patched[owner] = owner.__dict__["fit"]
        owner.fit = _wrap(owner.__dict__["fit"])


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        # arguments pass through untouched: some fits take (X, y), some (X) or (y) only
        if getattr(_state, "depth", 0):
            return original(self, *args, **kwargs)
        _state.depth = 1
        try:
            return _logged_fit(original, self, *args, **kwargs)
        finally:
            _state.depth = 0

    return fit


def _logged_fit(original: Any, estimator: Any, *args: Any, **kwargs: Any) -> Any:
    from loopml.errors import LoopmlError
    from loopml.tracking import api

    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    parent = api.active_run()
    own_run = parent is None or _has_autolog(parent)
    run = api.start_run(name=type(estimator).__name__) if own_run else parent
    assert run is not None
    try:
        started = time.perf_counter()
        result = original(estimator, *args, **kwargs)
        elapsed = time.perf_counter() - started
    except BaseException as exc:
        if own_run:
            run.__exit__(type(exc), exc, exc.__traceback__)
        raise
    try:
        params = {k: _short(v) for k, v in estimator.get_params(deep=True).items()}
        run.log_params(params)
        run.set_tags({"loopml.autolog": "sklearn", "estimator_class": _class_path(estimator)})
        run.log_metric("fit_time_s", elapsed)
        score = _training_score(estimator, X, y)
        if score is not None:
            run.log_metric("training_score", score)
    except LoopmlError as exc:  # recording must never break the user's (successful) fit
        log.warning("loopml autolog could not record %s.fit: %s", type(estimator).__name__, exc)
    finally:
        if own_run:
            run.end()
    return result


def _has_autolog(run: Any) -> bool:
    from loopml.tracking import state

    return "loopml.autolog" in state.get_store().get_run(run.run_id).tags


def _training_score(estimator: Any, X: Any, y: Any) -> float | None:
    if y is None or not hasattr(estimator, "score"):
        return None
    try:
        return float(estimator.score(X, y))
    except Exception:  # noqa: BLE001 - some estimators cannot score their training data
        return None


def _class_path(estimator: Any) -> str:
    cls = type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}"


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 500 else text[:497] + "..."
