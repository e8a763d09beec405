"""`loopml pipeline run|show|convert`, `loopml schedule add|list|remove`, `loopml scheduler`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from loopml.cli.output import console, print_json, print_table
from loopml.cli.runs import JsonOption, _time

pipeline_app = typer.Typer(help="Run and inspect pipelines.", no_args_is_help=True)
schedule_app = typer.Typer(help="Cron schedules of pipelines.", no_args_is_help=True)

ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="NAME=VALUE (repeatable); VALUE is JSON or text."),
]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["C=0.5", "name=rf"]`` -> ``{"C": 0.5, "name": "rf"}``."""
    from loopml.errors import InvalidInput

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {item!r} must look like NAME=VALUE.")
        try:
            params[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[key.strip()] = text
    return params


@pipeline_app.command("run")
def run_pipeline(
    target: Annotated[str, typer.Argument(help="path/to/file.py:pipeline_name")],
    param: ParamOption = None,
    params_file: Annotated[
        str | None, typer.Option("--params-file", help="A YAML mapping of parameters.")
    ] = None,
    seed: Annotated[int, typer.Option(help="The run's seed (steps derive theirs).")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step.")] = False,
) -> None:
    """Run a pipeline; every step is a tracked child run.

    Parameters come from loopml.yaml (`params.<pipeline name>`), then --params-file, then
    --param, each overriding the one before; all are checked against the pipeline's
    signature and types.
    """
    from loopml.pipelines.targets import load_target

    flow = load_target(target)
    params = {**_spec_params(getattr(flow, "name", "")), **_file_params(params_file)}
    params.update(parse_params(param))
    result = flow.run(**params, seed=seed, cache=not no_cache)
    console.print(f"pipeline run {result.run_id}: {result.status}")


def _spec_params(pipeline_name: str) -> dict[str, Any]:
    from loopml.errors import NotFound
    from loopml.project import load_project

    try:
        spec = load_project()
    except NotFound:
        return {}
    return dict(spec.params.get(pipeline_name, {}))


def _file_params(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    from pathlib import Path

    import yaml

    from loopml.errors import InvalidInput

    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"--params-file {path!r} is not a file.")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"--params-file {path!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise InvalidInput(f"--params-file {path!r} must hold a mapping of name: value.")
    return data


@pipeline_app.command("show")
def show_pipeline_run(
    run_id: Annotated[str, typer.Argument(help="The pipeline run's id (or a unique prefix).")],
    as_json: JsonOption = False,
) -> None:
    """The steps of a pipeline run as a tree: status, timing, inputs and outputs by digest."""
    from loopml.cli.runs import resolve_run_id
    from loopml.pipelines.lineage import render_tree, tree

    full_id = resolve_run_id(run_id)
    if as_json:
        print_json(tree(full_id))
        return
    console.print(render_tree(full_id), highlight=False)


@pipeline_app.command("convert")
def convert_notebook_command(
    notebook: Annotated[str, typer.Argument(help="The .ipynb; cells tagged `step` become steps.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Module to write (default: NOTEBOOK_pipeline.py)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The pipeline's name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Let steps pickle outputs no safe format can hold.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Turn a notebook's cells tagged `step` into a pipeline module for `loopml pipeline run`."""
    from loopml.pipelines.notebook import convert_notebook

    report = convert_notebook(
        notebook, output, pipeline_name=name, overwrite=force, trusted=trusted
    )
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(report.render())


@schedule_app.command("add")
def add(
    name: str,
    cron: Annotated[
        str | None,
        typer.Option(help="5 cron fields, UTC, e.g. '0 3 * * *' (for --monitor, default: "
                          "monitoring.schedule of loopml.yaml)."),
    ] = None,
    pipeline: Annotated[str | None, typer.Option(help="path/to/file.py:pipeline_name")] = None,
    monitor: Annotated[
        str | None,
        typer.Option(help="A model URI (churn@champion): evaluate its alert rules instead."),
    ] = None,
    param: ParamOption = None,
    catch_up: Annotated[
        bool, typer.Option(help="Run once at start for runs missed while down.")
    ] = True,
) -> None:
    """Store a schedule; ``loopml scheduler`` runs it."""
    from loopml.errors import InvalidInput
    from loopml.pipelines.schedules import add_schedule

    if (pipeline is None) == (monitor is None):
        raise InvalidInput("give exactly one of --pipeline FILE.py:NAME or --monitor MODEL_URI")
    params = parse_params(param)
    target = pipeline
    if monitor is not None:
        from loopml.models.uris import parse_model_uri
        from loopml.monitoring.jobs import TARGET

        parse_model_uri(monitor)
        target, params = TARGET, {"model": monitor, **params}
        cron = cron or _monitoring_cron()
    if cron is None:
        raise InvalidInput("--cron is required: 5 cron fields, e.g. '0 3 * * *'")
    schedule = add_schedule(name, cron, target, params, catch_up=catch_up)
    console.print(f"schedule {name!r}: next run {_time(schedule.next_run_time)} UTC")


def _monitoring_cron() -> str | None:
    from loopml.project import find_project, load_project

    found = find_project()
    return load_project(found).monitoring.schedule if found is not None else None


@schedule_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Schedules with their next and last runs."""
    import dataclasses

    from loopml.pipelines.schedules import list_schedules

    schedules = list_schedules()
    if as_json:
        print_json([dataclasses.asdict(s) for s in schedules])
        return
    rows = [
        (
            s.name,
            s.cron,
            s.target,
            json.dumps(s.params),
            _time(s.next_run_time),
            _time(s.last_run_time),
            s.last_status,
            (s.last_run_id or "")[:8],
        )
        for s in schedules
    ]
    print_table(
        "Schedules",
        ["name", "cron", "pipeline", "params", "next (UTC)", "last (UTC)", "status", "run"],
        rows,
    )


@schedule_app.command("remove")
def remove(name: str) -> None:
    """Delete a schedule (its past runs stay)."""
    from loopml.pipelines.schedules import remove_schedule

    remove_schedule(name)
    console.print(f"removed schedule {name!r}")


def scheduler(
    poll: Annotated[float, typer.Option(help="Seconds between checks.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
) -> None:
    """Run due schedules until stopped (Ctrl-C)."""
    from loopml.pipelines.schedules import Scheduler

    runner = Scheduler()
    if once:
        for result in runner.run_pending():
            console.print(f"{result.schedule}: {result.status} {result.run_id or ''}")
        return
    console.print(f"scheduler started; checking every {poll:g} s (Ctrl-C to stop)")
    try:
        runner.run_forever(poll_s=poll)
    except KeyboardInterrupt:
        console.print("scheduler stopped")
