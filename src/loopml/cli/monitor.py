"""``loopml monitor MODEL_URI``: drift, quality, performance, platform and alerts, from the log."""

from __future__ import annotations

from typing import Annotated

import typer


def monitor_command(
    model: Annotated[str, typer.Argument(help="Model URI: name@alias, name/VERSION or name.")],
    window: Annotated[str | None, typer.Option(help="Period: 30m, 12h, 1d, ... (default: "
                                                    "monitoring.window of loopml.yaml).")] = None,
    last: Annotated[int | None, typer.Option(help="The last N predictions instead of a "
                                                  "period.")] = None,
    html: Annotated[str | None, typer.Option(help="Write the report to this HTML file (one "
                                                  "self-contained page).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_alerts: Annotated[bool, typer.Option("--no-alerts", help="Evaluate the alert rules "
                                            "but do not store or send them.")] = False,
    project: Annotated[str | None, typer.Option(help="loopml.yaml to read (default: the "
                                                     "nearest one).")] = None,
) -> None:
    """Monitor a served model over its prediction log."""
    from loopml.monitoring.monitor import monitor, validate_args

    validate_args(window, last)
    spec = None
    if project is not None:
        from loopml.project import load_project

        spec = load_project(project)
    report = monitor(model, window=window, last=last, project=spec,
                     apply_alerts=not no_alerts)
    if html:
        report.to_html(html)
    if as_json:
        typer.echo(report.to_json())
        return
    _print_summary(report, html)


def _print_summary(report, html: str | None) -> None:  # noqa: ANN001 - a MonitorReport
    from loopml.cli.output import console, print_table

    console.print(
        f"[bold]{report.model}/{report.version}[/]: {report.n_predictions} predictions, "
        f"{report.n_labels} labelled"
    )
    if report.drift is not None:
        rows = [
            [c.name, c.test, _num(c.statistic), _num(c.p_value), _num(c.threshold),
             "DRIFT" if c.drifted else ("n/a" if not c.meaningful else "ok")]
            for c in report.drift.columns.values()
        ]
        print_table("drift", ["column", "test", "statistic", "p-value", "threshold", "verdict"],
                    rows)
    elif report.drift_note:
        console.print(f"drift: {report.drift_note}")
    for metric, estimate in report.estimated.items():
        console.print(
            f"estimated {metric}: {estimate['value']:.4f} "
            f"[{estimate['lower']:.4f}, {estimate['upper']:.4f}]"
        )
    for objective in report.latest_objectives():
        console.print(
            f"{objective['metric']}: {_num(objective['value'])} (goal {objective['condition']}): "
            f"{objective['verdict']}"
        )
    platform = report.platform
    if platform.get("requests"):
        console.print(
            f"platform: {platform['requests']} requests, error rate "
            f"{platform['error_rate']:.2%}, p99 {_num(platform.get('p99_ms'))} ms"
        )
    for finding in report.alerts:
        if finding.state == "firing":
            console.print(f"[red]ALERT[/] {finding.rule}: {finding.message}")
        elif finding.change == "resolved":
            console.print(f"[green]resolved[/] {finding.rule}: {finding.message}")
    if html:
        console.print(f"report written to {html}")


def _num(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.4g}"
