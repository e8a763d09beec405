"""The ``loopml`` command. Errors from loopml print as one clear line, not a traceback."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from loopml.cli.init import init_command
from loopml.cli.models import models_app
from loopml.cli.monitor import monitor_command
from loopml.cli.pipelines import pipeline_app, schedule_app, scheduler
from loopml.cli.runs import experiments_app, runs_app
from loopml.cli.serve import serve_command

app = typer.Typer(
    name="loopml",
    help="loopml: track, pipeline, register, serve, monitor and retrain, as one loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(experiments_app, name="experiments")
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.command("init")(init_command)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(schedule_app, name="schedule")
app.command("scheduler")(scheduler)
app.command("serve")(serve_command)
app.command("monitor")(monitor_command)


@app.callback()
def _global(
    store: Annotated[
        str | None,
        typer.Option(
            "--store", envvar="LOOPML_STORE", help="Store URL (default .loopml/loopml.db)."
        ),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts", envvar="LOOPML_ARTIFACTS", help="Artifact root (folder or URI)."
        ),
    ] = None,
) -> None:
    if store or artifacts:
        from loopml.tracking.state import configure

        configure(store=store, artifacts=artifacts)


@app.command()
def demo(
    runs: Annotated[int, typer.Option(help="Tracked training runs to make.")] = 6,
) -> None:
    """Run the loop on bundled data: tracked runs, a search, a comparison table."""
    from loopml.cli.demo import run_demo

    run_demo(n_runs=runs)


def main() -> None:
    from loopml.errors import LoopmlError

    try:
        app()
    except LoopmlError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
