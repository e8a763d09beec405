"""``loopml experiments list`` and ``loopml runs list|show|compare``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from loopml.cli.output import print_json, print_table

experiments_app = typer.Typer(help="Experiments in the store.", no_args_is_help=True)
runs_app = typer.Typer(help="Tracked runs: list, show, compare.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@experiments_app.command("list")
def list_experiments(as_json: JsonOption = False) -> None:
    """List experiments."""
    import loopml as ml

    experiments = ml.list_experiments()
    if as_json:
        print_json([dataclasses.asdict(e) for e in experiments])
        return
    rows = [(e.experiment_id, e.name, _time(e.created_time)) for e in experiments]
    print_table("Experiments", ["id", "name", "created (UTC)"], rows)


@runs_app.command("list")
def list_runs(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name (repeatable).")
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help='e.g. "metrics.auc > 0.8"')
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help='e.g. "metrics.auc desc"')
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows per page.")] = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip (pagination).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List runs matching a filter, newest first unless ordered."""
    import loopml as ml

    frame = ml.search_runs(experiment, filter=filter, order_by=order_by, limit=limit, offset=offset)
    if as_json:
        print_json(_frame_records(frame))
        return
    metric_columns = [c for c in frame.columns if c.startswith("metrics.")][:5]
    columns = ["run_id", "name", "status", "start_time", *metric_columns]
    rows = [[record.get(c) for c in columns] for record in _frame_records(frame)]
    for row in rows:  # the table shows short ids (like git); --json has the full ones
        row[0] = row[0][:8]
    headers = ["run", "name", "status", "started (UTC)"]
    headers += [c.removeprefix("metrics.") for c in metric_columns]
    print_table(f"Runs ({len(rows)})", headers, rows)


@runs_app.command("show")
def show_run(run_id: str, as_json: JsonOption = False) -> None:
    """Everything recorded for one run."""
    import loopml as ml

    run = ml.get_run(resolve_run_id(run_id))
    data = _run_dict(run)
    if as_json:
        print_json(data)
        return
    info = data["info"]
    print_table(f"Run {run_id}", ["field", "value"], [(k, v) for k, v in info.items()])
    if run.params:
        print_table("Params", ["key", "value"], sorted(run.params.items()))
    if run.metrics:
        rows = [(k, m.value, m.step) for k, m in run.metrics.items()]
        print_table("Metrics (latest)", ["key", "value", "step"], rows)
    if run.tags:
        print_table("Tags", ["key", "value"], sorted(run.tags.items()))
    if run.artifacts:
        rows = [(a.path, a.size, a.sha256[:12]) for a in run.artifacts]
        print_table("Artifacts", ["path", "bytes", "sha256"], rows)
    if run.datasets:
        rows = [(d.name, d.role, d.fingerprint[:12]) for d in run.datasets]
        print_table("Datasets", ["name", "role", "fingerprint"], rows)


@runs_app.command("compare")
def compare_runs(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    as_json: JsonOption = False,
) -> None:
    """Params and metrics of several runs side by side; differing params are marked."""
    import loopml as ml

    runs = [ml.get_run(resolve_run_id(run_id)) for run_id in run_ids]
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    if as_json:
        print_json([_run_dict(r) for r in runs])
        return
    rows: list[list[Any]] = [["name", *[r.info.name for r in runs]]]
    rows.append(["status", *[r.info.status.value for r in runs]])
    for key in param_keys:
        values = [r.params.get(key) for r in runs]
        marker = " *" if len(set(values)) > 1 else ""
        rows.append([f"params.{key}{marker}", *values])
    for key in metric_keys:
        rows.append([f"metrics.{key}", *[_metric(r, key) for r in runs]])
    print_table("Comparison (* = differs)", ["", *[r.run_id[:8] for r in runs]], rows)


def resolve_run_id(text: str) -> str:
    """A full run id from a unique prefix of at least 6 hex characters (as tables show)."""
    import re

    import loopml as ml
    from loopml.errors import InvalidInput, NotFound

    if len(text) == 32 or not re.fullmatch(r"[0-9a-f]{6,31}", text):
        return text  # a full id, or not an id at all: get_run gives the clear error
    found = ml.search_runs(filter=f"attributes.run_id LIKE '{text}%'", limit=2)["run_id"]
    if len(found) == 0:
        raise NotFound(f"no run id starts with {text!r}; see loopml runs list.")
    if len(found) > 1:
        raise InvalidInput(f"run id prefix {text!r} is ambiguous; give more characters.")
    return str(found.iloc[0])


def _metric(run: Any, key: str) -> float | None:
    metric = run.metrics.get(key)
    return None if metric is None else metric.value


def _run_dict(run: Any) -> dict[str, Any]:
    info = dataclasses.asdict(run.info)
    info["status"] = run.info.status.value
    info["start_time"] = _time(run.info.start_time)
    info["end_time"] = _time(run.info.end_time)
    return {
        "info": info,
        "params": run.params,
        "metrics": {k: m.value for k, m in run.metrics.items()},
        "tags": run.tags,
        "artifacts": [dataclasses.asdict(a) for a in run.artifacts],
        "datasets": [dataclasses.asdict(d) for d in run.datasets],
    }


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    import loopml as ml

    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    metric_columns = [c for c in frame.columns if c.startswith("metrics.")]
    for record in records:
        for key in ("start_time", "end_time"):
            value = record.get(key)
            if value is not None:
                record[key] = value.strftime("%Y-%m-%d %H:%M:%S")
        # the frame shows a logged NaN and a metric never logged alike: ask the run which
        missing = [c for c in metric_columns if record[c] is None]
        if missing:
            logged = ml.get_run(record["run_id"]).metrics
            for column in missing:
                metric = logged.get(column.removeprefix("metrics."))
                if metric is not None:
                    record[column] = metric.value
    return records
