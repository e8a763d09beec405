"""Search results as a pandas DataFrame: one row per run, ``metrics.*``, ``params.*`` and
``tags.*`` columns beside the run's attributes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopml.store.entities import Run

if TYPE_CHECKING:
    import pandas as pd

ATTRIBUTE_COLUMNS = [
    "run_id",
    "experiment",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "parent_run_id",
    "seed",
    "git_commit",
]


def runs_frame(runs: Sequence[Run], experiment_names: dict[int, str]) -> pd.DataFrame:
    import pandas as pd

    records = []
    for run in runs:
        info = run.info
        record: dict[str, object] = {
            "run_id": info.run_id,
            "experiment": experiment_names.get(info.experiment_id, str(info.experiment_id)),
            "name": info.name,
            "status": info.status.value,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "duration_s": (info.end_time - info.start_time) / 1000 if info.end_time else None,
            "parent_run_id": info.parent_run_id,
            "seed": info.seed,
            "git_commit": info.git_commit,
        }
        for key, metric in run.metrics.items():
            record[f"metrics.{key}"] = metric.value
        for key, value in run.params.items():
            record[f"params.{key}"] = value
        for key, value in run.tags.items():
            record[f"tags.{key}"] = value
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=ATTRIBUTE_COLUMNS)
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    extra = sorted(c for c in frame.columns if c not in ATTRIBUTE_COLUMNS)
    ordered = [c for c in ATTRIBUTE_COLUMNS if c in frame.columns]
    ordered += [c for c in extra if c.startswith("metrics.")]
    ordered += [c for c in extra if c.startswith("params.")]
    ordered += [c for c in extra if c.startswith("tags.")]
    return frame[ordered]
