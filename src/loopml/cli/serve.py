"""``loopml serve MODEL_URI``: the prediction service under uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Annotated, Any

import typer


def serve_command(
    model: Annotated[str, typer.Argument(help="Model URI: name@alias (e.g. churn@champion), "
                                              "name/VERSION or name.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (each batches its own "
                                              "requests).")] = 1,
    max_batch_rows: Annotated[int, typer.Option(help="Rows per model call, at most.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="Longest a request waits for others "
                                                    "under load.")] = 5.0,
    max_latency_ms: Annotated[float, typer.Option(help="Shed load (503) when the queue "
                                                       "cannot start a request in time.")] = 2000,
    batching: Annotated[bool, typer.Option(help="Merge concurrent requests into one model "
                                                "call.")] = True,
    unseen_categories: Annotated[str, typer.Option(help="reject (422) or flag (answer with a "
                                                        "warning).")] = "reject",
    challenger: Annotated[str | None, typer.Option(help="Alias or URI of a challenger "
                                                        "model.")] = None,
    mode: Annotated[str, typer.Option(help="shadow (logged, not returned) or canary (a share "
                                           "of traffic).")] = "shadow",
    canary_share: Annotated[float, typer.Option(help="Share of requests the canary "
                                                     "answers.")] = 0.1,
    reload_interval: Annotated[float, typer.Option(help="Seconds between alias checks (0: "
                                                        "no hot reload).")] = 2.0,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 10 * 2**20,
    project: Annotated[str | None, typer.Option(help="loopml.yaml to read the serving "
                                                     "policy and PII columns from (default: "
                                                     "the nearest one).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request line.")] = False,
) -> None:
    """Serve a registered model over HTTP: JSON /predict and Open Inference Protocol v2."""
    import uvicorn

    from loopml.errors import InvalidInput
    from loopml.models.registry import get_model_version
    from loopml.project import find_project
    from loopml.serving.options import ServeOptions
    from loopml.tracking import state

    if workers < 1:
        raise InvalidInput(f"--workers must be at least 1, got {workers}")
    options = dict(
        max_batch_rows=max_batch_rows if batching else 1,
        max_wait_ms=max_wait_ms if batching else 0.0,
        max_latency_ms=max_latency_ms,
        unseen_categories=unseen_categories,
        challenger=challenger,
        challenger_mode=mode,
        canary_share=canary_share,
        reload_interval_s=reload_interval,
        max_body_bytes=max_body_bytes,
    )
    ServeOptions(**options)  # check the options before any worker starts
    version = get_model_version(model)  # an unknown model is one clear error, here
    project_path = project or (str(p) if (p := find_project()) is not None else None)
    typer.echo(
        f"serving {version.uri} on http://{host}:{port} ({workers} worker"
        f"{'s' if workers > 1 else ''}); docs at /docs"
    )
    os.environ.update(
        LOOPML_SERVE_MODEL=model,
        LOOPML_SERVE_OPTIONS=json.dumps(options),
        LOOPML_STORE=state.store_uri(),
        LOOPML_ARTIFACTS=state.artifact_uri(),
    )
    if project_path:
        os.environ["LOOPML_SERVE_PROJECT"] = project_path
    metrics_dir = None
    if workers > 1:  # /metrics sums every worker's figures
        metrics_dir = tempfile.mkdtemp(prefix="loopml-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _run(uvicorn, host, port, workers, access_log)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run(uvicorn: Any, host: str, port: int, workers: int, access_log: bool) -> None:
    uvicorn.run(
        "loopml.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
