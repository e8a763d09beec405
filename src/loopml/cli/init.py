"""``loopml init NAME``: scaffold a project that runs on its first try.

The scaffold is the spec (``loopml.yaml``, commented), a training pipeline (``pipeline.py``)
that reads it and tracks a run, sample data cut from a data set bundled with scikit-learn,
and a README. The templates are package data in ``loopml/cli/templates/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

SLUG_RULE = "1-64 letters, digits, '-' and '_', starting with a letter or digit"
_TOKEN_RE = re.compile(r"\{\{(\w+)\}\}")
SEED = 0


class TaskChoice(StrEnum):
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


@dataclass(frozen=True)
class _Sample:
    """What a task's sample project holds: the data set, its model and its goals."""

    loader: str
    dataset: str
    task_text: str
    model: str
    params: str
    objectives: dict[str, str]
    fairness_metric: str
    fairness_gap: float


# Objectives the sample model meets with room to spare, so the first run passes its gates.
_SAMPLES = {
    "binary": _Sample(
        loader="load_breast_cancer",
        dataset="breast cancer (Wisconsin diagnostic)",
        task_text="binary classification",
        model="logreg",
        params='"C": 1.0, "max_iter": 1000',
        objectives={"roc_auc": ">= 0.95", "accuracy": ">= 0.9"},
        fairness_metric="accuracy",
        fairness_gap=0.1,
    ),
    "multiclass": _Sample(
        loader="load_wine",
        dataset="wine",
        task_text="multiclass classification",
        model="logreg",
        params='"C": 1.0, "max_iter": 1000',
        objectives={"accuracy": ">= 0.9", "f1": ">= 0.9"},
        fairness_metric="accuracy",
        fairness_gap=0.15,
    ),
    "regression": _Sample(
        loader="load_diabetes",
        dataset="diabetes",
        task_text="regression",
        model="ridge",
        params='"alpha": 1.0',
        objectives={"r2": ">= 0.3", "rmse": "<= 65"},
        fairness_metric="mae",
        fairness_gap=15.0,
    ),
}
_METRIC_NAMES = {
    "binary": "accuracy, precision, recall, f1, roc_auc, log_loss",
    "multiclass": "accuracy, precision, recall, f1, roc_auc, log_loss",
    "regression": "rmse, mae, r2",
}


def init_command(
    name: Annotated[str, typer.Argument(help=f"Project name: {SLUG_RULE}.")],
    path: Annotated[
        Path | None,
        typer.Option("--path", help="Folder to create the project in (default: here)."),
    ] = None,
    task: Annotated[
        TaskChoice, typer.Option("--task", help="What the model predicts.")
    ] = TaskChoice.binary,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into an existing non-empty folder: scaffold files are overwritten, "
            "other files are kept.",
        ),
    ] = False,
) -> None:
    """Create a project: loopml.yaml, pipeline.py, sample data and a README."""
    from loopml.cli.output import console

    folder = scaffold_project(name, path, task.value, force=force)
    console.print(f"[bold]Created {name}[/] in {folder}:")
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            console.print(f"  {file.relative_to(folder)}")
    console.print(
        f"Next: [bold]cd {folder}[/] and [bold]python pipeline.py[/], "
        f"then [bold]loopml runs list -e {name}[/]"
    )


def scaffold_project(
    name: str, directory: str | Path | None = None, task: str = "binary", *, force: bool = False
) -> Path:
    """Write the project ``name`` into ``directory/name`` (default ``./name``); returns it.

    Refuses (``InvalidInput``) a name that is not a slug or an unknown task, and
    (``Conflict``) an existing non-empty folder unless ``force``.
    """
    from loopml.project import SLUG_RE, load_project

    if not SLUG_RE.match(name):
        raise InvalidInput(f"project name {name!r} is not a slug; use {SLUG_RULE}.")
    sample = _SAMPLES.get(task)
    if sample is None:
        raise InvalidInput(f"task {task!r} is not known; choose one of: {', '.join(_SAMPLES)}.")
    folder = Path(directory if directory is not None else Path.cwd()).expanduser() / name
    if folder.exists() and not folder.is_dir():
        raise Conflict(f"{folder} exists and is a file; choose another NAME or --path.")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise Conflict(
            f"folder {folder} already exists and is not empty; choose another NAME or --path, "
            "or pass --force to write the scaffold into it (files of the same name are "
            "overwritten, other files are kept)."
        )
    train, test = sample_data(task)
    description = f"{sample.task_text.capitalize()} on scikit-learn's {sample.dataset} data."
    values = {
        "name": name,
        "task": task,
        "task_text": sample.task_text,
        "description": description,
        "dataset": sample.dataset,
        "rows": f"{len(train)} rows for training, {len(test)} for testing",
        "model": sample.model,
        "params": sample.params,
        "metric_names": _METRIC_NAMES[task],
        "objectives": "\n".join(f'  {k}: "{v}"' for k, v in sample.objectives.items()),
        "fairness_metric": sample.fairness_metric,
        "fairness_gap": f"{sample.fairness_gap:g}",
    }
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for template, target in [
        ("loopml.yaml.tmpl", "loopml.yaml"),
        ("pipeline.py.tmpl", "pipeline.py"),
        ("README.md.tmpl", "README.md"),
        ("gitignore.tmpl", ".gitignore"),
    ]:
        (folder / target).write_text(render(read_template(template), values), encoding="utf-8")
    train.to_csv(folder / "data" / "train.csv", index=False)
    test.to_csv(folder / "data" / "test.csv", index=False)
    load_project(folder)  # the scaffold must pass its own schema
    return folder


def read_template(name: str) -> str:
    return resources.files("loopml.cli").joinpath("templates", name).read_text(encoding="utf-8")


def render(template: str, values: dict[str, str]) -> str:
    """Replace each ``{{key}}``; a key without a value is a bug in the template."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template field {{{{{key}}}}} has no value")
        return values[key]

    return _TOKEN_RE.sub(value, template)


def sample_data(task: str, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames from scikit-learn's bundled data set for ``task``: snake_case
    feature columns, a synthetic sensitive column ``group`` (``a``/``b``), the label in
    ``target``. Deterministic for a seed; stratified for classification."""
    import numpy as np
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    bunch = getattr(datasets, _SAMPLES[task].loader)(as_frame=True)
    features = bunch.data.rename(columns=_snake_case)
    rng = np.random.default_rng(seed)
    frame = features.assign(
        group=rng.choice(["a", "b"], size=len(features), p=[0.6, 0.4]),
        target=bunch.target.to_numpy(),
    )
    train, test = train_test_split(
        frame,
        test_size=0.25,
        random_state=seed,
        stratify=frame["target"] if task != "regression" else None,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _snake_case(column: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_")
