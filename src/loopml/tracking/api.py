"""The tracking functions of ``import loopml as ml``: start_run, log_*, search_runs, ..."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput, LoopmlError
from loopml.store import validation
from loopml.store.entities import Experiment
from loopml.store.entities import Run as RunRecord
from loopml.tracking import environment, seeding, state
from loopml.tracking.run import Run

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_EXPERIMENT = "default"
_experiment_ids: dict[tuple[str, str], int] = {}


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    seed: int | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = True,
    run_class: type[Run] = Run,
) -> Run:
    """Start recording a run; use as ``with ml.start_run(...) as run:``.

    Started while another run is active, the new run is its child (same experiment unless
    given). ``seed`` seeds random, NumPy and torch. The run ends FINISHED when the block
    exits, FAILED (with the traceback) on an exception, KILLED on Ctrl-C or SIGTERM.
    """
    if seed is not None:
        seeding.check_seed(seed)
    if name is not None:
        validation.validate_key("run name", name)
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidInput(f"tags must be a mapping, not {type(tags).__name__}.")
    state.install_exit_hooks()
    environment.packages.start()
    parent = state.current_run() if nested else None
    experiment = experiment or (parent.experiment if parent else None)
    experiment = experiment or os.environ.get("LOOPML_EXPERIMENT") or DEFAULT_EXPERIMENT
    store = state.get_store()
    experiment_id = _experiment_id(experiment)
    git = environment.git_state(os.getcwd())
    user, host = environment.user_and_host()
    all_tags = {
        "loopml.python": environment.python_version(),
        "loopml.command": environment.command_line()[:5000],
        "loopml.user": user,
        "loopml.host": host,
        **{str(k): v for k, v in (tags or {}).items()},
    }
    info = store.create_run(
        experiment_id,
        name=name,
        parent_run_id=parent.run_id if parent else None,
        seed=seed,
        git_commit=git.commit,
        git_dirty=git.dirty,
        entry_point=environment.entry_point(),
        tags={k: validation.tag_value(k, v) for k, v in all_tags.items()},
    )
    if seed is not None:
        seeding.seed_everything(seed)
    run = run_class(info, experiment)
    with state._lock:
        state.active_runs.append(run)
    return run


def _experiment_id(name: str) -> int:
    key = (state.store_uri(), name)
    cached = _experiment_ids.get(key)
    if cached is None:
        cached = _experiment_ids[key] = (
            state.get_store().get_or_create_experiment(name).experiment_id
        )
    return cached


def active_run() -> Run | None:
    """The innermost run in progress, if any."""
    return state.current_run()


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run (for code that does not use ``with``)."""
    _require_active().end(status)


def _require_active() -> Run:
    run = state.current_run()
    if run is None:
        raise LoopmlError("no active run: call ml.start_run() first (or log through a Run).")
    return run


def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_active().log_params(params)


def log_metric(key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
    _require_active().log_metric(key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: Mapping[str, float], step: int = 0, timestamp: int | None = None) -> None:
    _require_active().log_metrics(metrics, step=step, timestamp=timestamp)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require_active().set_tags(tags)


def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None) -> str:
    return _require_active().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[str]:
    return _require_active().log_artifacts(local_dir, artifact_path)


def log_figure(figure: Any, artifact_path: str) -> str:
    return _require_active().log_figure(figure, artifact_path)


def log_dataset(data: Any, name: str = "dataset", role: str = "train") -> Any:
    return _require_active().log_dataset(data, name=name, role=role)


def flush() -> None:
    """Write every buffered metric to the store now."""
    state.flush()


def get_run(run_id: str) -> RunRecord:
    """A run with its params, latest metrics, tags, artifacts and datasets."""
    state.flush()
    return state.get_store().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> pd.DataFrame:
    """Every point of one metric: columns step, timestamp (UTC), value; sorted by step."""
    import pandas as pd

    state.flush()
    series = state.get_store().get_metric_history(run_id, key)
    return pd.DataFrame(
        {
            "step": series.steps,
            "timestamp": pd.to_datetime(series.timestamps, unit="ms", utc=True),
            "value": series.values,
        }
    )


def list_experiments() -> list[Experiment]:
    return state.get_store().list_experiments()


def get_artifact(run_id: str, path: str) -> bytes:
    """The bytes of one artifact of a run (checked against its sha256)."""
    from loopml.artifacts import sanitize_path
    from loopml.errors import NotFound

    logical = sanitize_path(path)
    run = state.get_store().get_run(run_id)
    for record in run.artifacts:
        if record.path == logical:
            return state.get_artifacts().read_bytes(record.sha256)
    known = ", ".join(r.path for r in run.artifacts[:20]) or "none"
    raise NotFound(f"run {run_id} has no artifact {logical!r}; it has: {known}.")


def search_runs(
    experiments: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> pd.DataFrame:
    """Runs matching ``filter`` as a DataFrame, one row per run.

    Filter: ``metrics.auc > 0.8 and (params.model = 'rf' or tags.team LIKE 'fr%')``;
    ``order_by``: ``"metrics.auc desc"`` or a list of such keys; page with ``limit``/``offset``.
    """
    from loopml.tracking.search import runs_frame

    state.flush()
    store = state.get_store()
    if isinstance(experiments, str):
        experiments = [experiments]
    ids = None
    names: dict[int, str] = {e.experiment_id: e.name for e in store.list_experiments()}
    if experiments is not None:
        ids = [store.get_experiment(name).experiment_id for name in experiments]
    runs = store.search_runs(ids, filter, order_by, limit=limit, offset=offset)
    return runs_frame(runs, names)
