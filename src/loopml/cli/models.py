"""``loopml models list|show|alias|promote|export``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli.output import console, print_json, print_table
from loopml.cli.runs import JsonOption, _time

models_app = typer.Typer(
    help="Registered models: versions, aliases, promotion.", no_args_is_help=True
)


@models_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """Registered models with their latest version and aliases."""
    from loopml.models.registry import list_models as _list

    models = _list()
    if as_json:
        print_json([dataclasses.asdict(m) for m in models])
        return
    rows = [
        (
            m.name,
            m.latest_version,
            ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
            _time(m.created_time),
            m.description,
        )
        for m in models
    ]
    print_table("Models", ["name", "latest", "aliases", "created (UTC)", "description"], rows)


@models_app.command("show")
def show_model(
    uri: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION.")],
    as_json: JsonOption = False,
) -> None:
    """A model's versions (or one version) and its alias audit log."""
    from loopml.models.registry import alias_history, get_model_version, list_model_versions
    from loopml.models.uris import parse_model_uri

    ref = parse_model_uri(uri)
    versions = (
        [get_model_version(uri)] if (ref.alias or ref.version) else list_model_versions(ref.name)
    )
    history = alias_history(ref.name)
    if as_json:
        print_json(
            {
                "versions": [dataclasses.asdict(v) for v in versions],
                "alias_history": [dataclasses.asdict(e) for e in history],
            }
        )
        return
    rows = [
        (
            v.version,
            ", ".join(v.aliases),
            v.flavor,
            v.run_id[:8] if v.run_id else "",
            _metrics_summary(v.metrics),
            v.sha256[:12],
            _time(v.created_time),
        )
        for v in versions
    ]
    print_table(
        f"Model {ref.name}",
        ["version", "aliases", "flavor", "run", "metrics", "sha256", "created (UTC)"],
        rows,
    )
    if len(versions) == 1 and versions[0].signature:
        columns = versions[0].signature.get("inputs", [])
        print_table(
            "Signature",
            ["column", "kind", "dtype", "nullable"],
            [(c["name"], c["kind"], c["dtype"], c["nullable"]) for c in columns],
        )
    print_table(
        "Alias audit log",
        ["when (UTC)", "alias", "from", "to", "who", "forced", "why"],
        [
            (
                _time(e.time),
                e.alias,
                e.from_version,
                e.to_version,
                e.user,
                "yes" if e.forced else "",
                e.reason,
            )
            for e in history
        ],
    )


@models_app.command("alias")
def set_alias(
    name: str,
    alias: str,
    version: int,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
) -> None:
    """Point NAME@ALIAS at VERSION, without gates (use promote for gated moves)."""
    from loopml.models.registry import set_alias as _set

    event = _set(name, alias, version, reason=reason)
    console.print(f"{name}@{alias}: {event.from_version or '-'} → {event.to_version}")


@models_app.command("promote")
def promote(
    name: str,
    version: int,
    alias: Annotated[str, typer.Option(help="Alias to move.")] = "champion",
    holdout: Annotated[
        Path | None, typer.Option(help="CSV or Parquet holdout, evaluated for every gate.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column of the holdout.")] = None,
    spec: Annotated[Path | None, typer.Option(help="loopml.yaml (default: searched).")] = None,
    margin: Annotated[float | None, typer.Option(help="Needed lead over the holder.")] = None,
    force: Annotated[bool, typer.Option(help="Promote even if gates fail.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --force).")] = None,
) -> None:
    """Move NAME@ALIAS to VERSION if it passes every objective of loopml.yaml."""
    from loopml.models.promotion import promote as _promote

    pair = _read_holdout(holdout, target, spec) if holdout else None
    result = _promote(
        name,
        version,
        alias,
        holdout=pair,
        spec=str(spec) if spec else None,
        margin=margin,
        force=force,
        reason=reason,
    )
    console.print(result.table())
    state = "FORCED" if result.forced else "promoted"
    console.print(f"{name}/{version} {state} to {alias!r}")


@models_app.command("export")
def export(
    uri: Annotated[str, typer.Argument(help="NAME@ALIAS or NAME/VERSION.")],
    format: Annotated[str, typer.Option("--format", help="Export format.")] = "onnx",
    output: Annotated[Path | None, typer.Option(help="Output file.")] = None,
) -> None:
    """Export a registered model for another runtime (checked against the model itself)."""
    from loopml.errors import InvalidInput
    from loopml.models.export import export_registered

    if format != "onnx":
        raise InvalidInput(f"--format {format!r} is not supported; use onnx.")
    report = export_registered(uri, output)
    console.print(
        f"wrote {report.path} ({report.size_bytes:,} bytes, opset {report.opset}); "
        f"max difference from the model on its input example: {report.max_abs_diff:.2e}"
    )


def _read_holdout(path: Path, target: str | None, spec: Path | None) -> tuple[Any, Any]:
    import pandas as pd

    from loopml.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"--holdout {str(path)!r} is not a file.")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if target is None:
        from loopml.project import load_project

        target = load_project(spec).target
    if target not in frame.columns:
        raise InvalidInput(
            f"--target {target!r} is not a column of {path}; columns: {', '.join(frame.columns)}."
        )
    return frame.drop(columns=[target]), frame[target]


def _metrics_summary(metrics: dict[str, float]) -> str:
    keys = [k for k in ("roc_auc", "f1", "accuracy", "r2", "rmse") if k in metrics][:2]
    return ", ".join(f"{k}={metrics[k]:.4g}" for k in keys)
