"""Tracking benchmark: loopml against MLflow (SQLite backend), side by side in one run.

    python bench/tracking.py            # full sizes (~several minutes), rewrites RESULTS.md
    python bench/tracking.py --quick    # small sizes, a smoke run (prints only, see --write)

Each measurement runs in a fresh worker subprocess with fresh stores in a fresh folder under
bench/work/ (removed afterwards unless --keep). Run it with the interpreter of .venv-bench,
which has loopml (editable) and the anchors of bench/requirements.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    REPO_DIR,
    Row,
    WorkerError,
    emit,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    fresh_dir,
    headers_for,
    import_times,
    load_average,
    log,
    machine_info,
    median,
    row_cells,
    run_worker,
    section_body,
    sqlite_url,
    text_table,
    write_section,
)

SCRIPT = Path(__file__).resolve()
SECTION = "Tracking"
ANCHOR = "MLflow (SQLite)"
EXPERIMENT = "bench"
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'a'"
MLFLOW_ORDER = ["metrics.m2 DESC"]
LOOPML_ORDER = "metrics.m2 desc"
SEARCH_LIMIT = 1000
SEED = 20240611

# Sizes. "repeats" are the number of timed repetitions whose median is reported.
# MLflow's log_metric (2,000 calls, ~20 s) and log_metrics (10,000 points, ~16 s) runs are
# long: they are timed once, to keep the whole benchmark near 10 minutes.
FULL: dict[str, Any] = {
    "log_metric": {
        "loopml_calls": 20_000,
        "mlflow_calls": 2_000,
        "loopml_repeats": 5,
        "mlflow_repeats": 1,
    },
    "bulk": {
        "keys": 10,
        "loopml_steps": 100_000,
        "mlflow_steps": 1_000,
        "loopml_repeats": 3,
        "mlflow_repeats": 1,
    },
    "search": {"runs": 10_000, "repeats": 5},
    "history": {"steps": 100_000, "loopml_repeats": 5, "mlflow_repeats": 1},
    "import_repeats": 11,
}
QUICK: dict[str, Any] = {
    "log_metric": {
        "loopml_calls": 2_000,
        "mlflow_calls": 200,
        "loopml_repeats": 3,
        "mlflow_repeats": 3,
    },
    "bulk": {
        "keys": 10,
        "loopml_steps": 5_000,
        "mlflow_steps": 100,
        "loopml_repeats": 3,
        "mlflow_repeats": 3,
    },
    "search": {"runs": 600, "repeats": 5},
    "history": {"steps": 5_000, "loopml_repeats": 5, "mlflow_repeats": 1},
    "import_repeats": 5,
}
TARGETS = {
    "log_metric_ratio": 100.0,  # loopml calls/s >= 100x MLflow's
    "bulk_seconds": 10.0,  # 1,000,000 points through run end, loopml
    "search_ratio": 10.0,  # MLflow search time / loopml's
    "import_seconds": 0.15,  # python -c "import loopml"
}


# =======================================================================================
# Shared data (both libraries log exactly the same values)
# =======================================================================================
def series(n: int, seed: int = SEED) -> list[float]:
    import numpy as np

    return np.random.default_rng(seed).random(n).tolist()


def bulk_rows(keys: int, steps: int) -> list[dict[str, float]]:
    import numpy as np

    values = np.random.default_rng(SEED).random((steps, keys)).tolist()
    names = [f"k{j}" for j in range(keys)]
    return [dict(zip(names, row, strict=True)) for row in values]


def search_data(n: int) -> list[dict[str, Any]]:
    """``n`` runs with 5 params and 5 metrics; about a quarter match SEARCH_FILTER."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    metrics = rng.random((n, 5)).tolist()
    p1 = rng.choice(["a", "b"], size=n).tolist()
    p2 = rng.choice(["rf", "gbm", "linear"], size=n).tolist()
    return [
        {
            "name": f"run-{i:05d}",
            "params": {"p0": str(i), "p1": p1[i], "p2": p2[i], "p3": str(i % 7), "p4": "fixed"},
            "metrics": {f"m{j}": metrics[i][j] for j in range(5)},
        }
        for i in range(n)
    ]


def expected_names(data: list[dict[str, Any]]) -> list[str]:
    """The answer of the search, computed in plain Python."""
    hits = [r for r in data if r["metrics"]["m0"] > 0.5 and r["params"]["p1"] == "a"]
    hits.sort(key=lambda r: r["metrics"]["m2"], reverse=True)
    return [r["name"] for r in hits[:SEARCH_LIMIT]]


def match_count(data: list[dict[str, Any]]) -> int:
    return sum(r["metrics"]["m0"] > 0.5 and r["params"]["p1"] == "a" for r in data)


# =======================================================================================
# loopml workers
# =======================================================================================
def loopml_use(folder: Path) -> Any:
    import loopml as ml

    folder.mkdir(parents=True, exist_ok=True)
    ml.configure(store=sqlite_url(folder / "loopml.db"), artifacts=str(folder / "artifacts"))
    return ml


def loopml_log_metric(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    n = p["loopml_calls"]
    values = series(n)
    times = []
    for r in range(p["loopml_repeats"]):
        ml = loopml_use(work / f"rep{r}")
        with ml.start_run("bench-log-metric", name=f"log-metric-{r}") as run:
            start = time.perf_counter()
            for i in range(n):
                run.log_metric("loss", values[i], step=i)
            ml.flush()
            times.append(time.perf_counter() - start)
        history = ml.get_metric_history(run.run_id, "loss")
        assert len(history) == n, f"loopml history has {len(history)} points, logged {n}"
        assert history["value"].tolist() == values, "loopml history values differ"
        log(f"  loopml log_metric x{n}: {times[-1]:.3f} s")
    return {"calls": n, "times": times}


def loopml_bulk(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    keys, steps = p["keys"], p["loopml_steps"]
    rows = bulk_rows(keys, steps)
    times = []
    for r in range(p["loopml_repeats"]):
        ml = loopml_use(work / f"rep{r}")
        run = ml.start_run("bench-bulk", name=f"bulk-{r}")
        start = time.perf_counter()
        for i in range(steps):
            run.log_metrics(rows[i], step=i)
        run.end()
        times.append(time.perf_counter() - start)
        last = ml.get_metric_history(run.run_id, f"k{keys - 1}")
        assert len(last) == steps, f"loopml history has {len(last)} points, logged {steps}"
        assert last["value"].iloc[-1] == rows[-1][f"k{keys - 1}"]
        log(f"  loopml log_metrics {keys}x{steps}: {times[-1]:.3f} s")
    return {"points": keys * steps, "times": times}


def loopml_search(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    data = search_data(p["runs"])
    ml = loopml_use(work)
    start = time.perf_counter()
    for record in data:
        with ml.start_run(EXPERIMENT, name=record["name"]) as run:
            run.log_params(record["params"])
            run.log_metrics(record["metrics"])
    setup = time.perf_counter() - start
    log(f"  loopml setup of {len(data)} runs: {setup:.1f} s")

    def search() -> Any:
        return ml.search_runs(
            EXPERIMENT, filter=SEARCH_FILTER, order_by=LOOPML_ORDER, limit=SEARCH_LIMIT
        )

    frame = search()  # warm-up, not timed
    times = []
    for _ in range(p["repeats"]):
        start = time.perf_counter()
        frame = search()
        times.append(time.perf_counter() - start)
    log(f"  loopml search_runs: median {median(times) * 1e3:.1f} ms")
    return {"setup": setup, "times": times, "names": frame["name"].tolist()}


def loopml_history(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    steps = p["steps"]
    values = series(steps)
    ml = loopml_use(work)
    with ml.start_run("bench-history", name="history") as run:
        for i in range(steps):
            run.log_metric("loss", values[i], step=i)
    ml.get_metric_history(run.run_id, "loss")  # warm-up, not timed
    times = []
    for _ in range(p["loopml_repeats"]):
        start = time.perf_counter()
        history = ml.get_metric_history(run.run_id, "loss")
        times.append(time.perf_counter() - start)
        assert len(history) == steps, f"loopml history has {len(history)} points, logged {steps}"
    assert history["step"].tolist() == list(range(steps))
    assert history["value"].tolist() == values, "loopml history values differ"
    log(f"  loopml get_metric_history({steps}): median {median(times) * 1e3:.1f} ms")
    return {"steps": steps, "times": times}


# =======================================================================================
# MLflow workers
# =======================================================================================
def mlflow_use(folder: Path) -> Any:
    import logging

    import mlflow

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(sqlite_url(folder / "mlflow.db"))
    return mlflow


def mlflow_experiment(mlflow: Any, folder: Path, name: str) -> str:
    """An experiment whose artifacts go to the temp folder, not ./mlruns."""
    return mlflow.create_experiment(name, artifact_location=(folder / "mlruns").as_uri())


def mlflow_log_metric(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    n = p["mlflow_calls"]
    values = series(n)
    times = []
    for r in range(p["mlflow_repeats"]):
        folder = work / f"rep{r}"
        mlflow = mlflow_use(folder)
        experiment_id = mlflow_experiment(mlflow, folder, "bench-log-metric")
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"log-metric-{r}") as run:
            start = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", values[i], step=i)
            times.append(time.perf_counter() - start)
        history = MlflowClient().get_metric_history(run.info.run_id, "loss")
        assert len(history) == n, f"MLflow history has {len(history)} points, logged {n}"
        log(f"  MLflow log_metric x{n}: {times[-1]:.3f} s")
    return {"calls": n, "times": times}


def mlflow_bulk(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    keys, steps = p["keys"], p["mlflow_steps"]
    rows = bulk_rows(keys, steps)
    times = []
    for r in range(p["mlflow_repeats"]):
        folder = work / f"rep{r}"
        mlflow = mlflow_use(folder)
        experiment_id = mlflow_experiment(mlflow, folder, "bench-bulk")
        run = mlflow.start_run(experiment_id=experiment_id, run_name=f"bulk-{r}")
        start = time.perf_counter()
        for i in range(steps):
            mlflow.log_metrics(rows[i], step=i)
        mlflow.end_run()
        times.append(time.perf_counter() - start)
        last = MlflowClient().get_metric_history(run.info.run_id, f"k{keys - 1}")
        assert len(last) == steps, f"MLflow history has {len(last)} points, logged {steps}"
        log(f"  MLflow log_metrics {keys}x{steps}: {times[-1]:.3f} s")
    return {"points": keys * steps, "times": times}


def mlflow_search(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    data = search_data(p["runs"])
    mlflow = mlflow_use(work)
    client = MlflowClient()
    experiment_id = mlflow_experiment(mlflow, work, EXPERIMENT)
    start = time.perf_counter()
    for record in data:
        run = client.create_run(experiment_id, run_name=record["name"])
        run_id = run.info.run_id
        stamp = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in record["metrics"].items()],
            params=[Param(k, v) for k, v in record["params"].items()],
        )
        # No set_terminated: a third transaction per run (~7 ms x 10,000), and the search
        # does not look at the status.
    setup = time.perf_counter() - start
    log(f"  MLflow setup of {len(data)} runs: {setup:.1f} s")

    def search() -> Any:
        return mlflow.search_runs(
            experiment_names=[EXPERIMENT],
            filter_string=SEARCH_FILTER,
            order_by=MLFLOW_ORDER,
            max_results=SEARCH_LIMIT,
        )

    frame = search()  # warm-up, not timed
    times = []
    for _ in range(p["repeats"]):
        start = time.perf_counter()
        frame = search()
        times.append(time.perf_counter() - start)
    log(f"  MLflow search_runs: median {median(times) * 1e3:.1f} ms")
    return {"setup": setup, "times": times, "names": frame["tags.mlflow.runName"].tolist()}


def mlflow_history(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    steps = p["steps"]
    values = series(steps)
    mlflow = mlflow_use(work)
    client = MlflowClient()
    experiment_id = mlflow_experiment(mlflow, work, "bench-history")
    run_id = client.create_run(experiment_id, run_name="history").info.run_id
    start = time.perf_counter()
    stamp = int(time.time() * 1000)
    for first in range(0, steps, 1000):  # MLflow takes at most 1,000 metrics per batch
        chunk = range(first, min(steps, first + 1000))
        batch = [Metric("loss", values[i], stamp, i) for i in chunk]
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    log(f"  MLflow setup of {steps} steps via log_batch: {time.perf_counter() - start:.1f} s")
    times = []
    for _ in range(p["mlflow_repeats"]):
        start = time.perf_counter()
        history = MlflowClient().get_metric_history(run_id, "loss")
        times.append(time.perf_counter() - start)
    assert len(history) == steps, f"MLflow history has {len(history)} points, logged {steps}"
    got = sorted((m.step, m.value) for m in history)
    assert [v for _, v in got] == values, "MLflow history values differ"
    log(f"  MLflow get_metric_history({steps}): {median(times):.2f} s")
    return {"steps": steps, "times": times}


WORKERS: dict[tuple[str, str], Callable[[Path, dict[str, Any]], dict[str, Any]]] = {
    ("loopml", "log_metric"): loopml_log_metric,
    ("loopml", "bulk"): loopml_bulk,
    ("loopml", "search"): loopml_search,
    ("loopml", "history"): loopml_history,
    ("mlflow", "log_metric"): mlflow_log_metric,
    ("mlflow", "bulk"): mlflow_bulk,
    ("mlflow", "search"): mlflow_search,
    ("mlflow", "history"): mlflow_history,
}


def worker_main(library: str, measure: str, work: str, params: str) -> int:
    try:
        result = WORKERS[(library, measure)](Path(work), json.loads(params))
    except BaseException as exc:  # noqa: BLE001 - hand the failure back to the runner
        emit({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        return 1
    emit(result)
    return 0


# =======================================================================================
# The runner: one worker per (library, measurement), then the table
# =======================================================================================
class Runner:
    def __init__(self, sizes: dict[str, Any], keep: bool) -> None:
        self.sizes = sizes
        self.keep = keep
        self.errors: list[str] = []

    def measure(self, library: str, measure: str) -> dict[str, Any] | None:
        log(f"[{library}] {measure} ...")
        with fresh_dir(f"tracking-{library}-{measure}", keep=self.keep) as work:
            # MLflow runs in its temp folder so that nothing lands in ./mlruns of the repo;
            # loopml runs in the repository, like a user's script (git state is captured).
            cwd = work if library == "mlflow" else REPO_DIR
            args = ["--worker", library, measure, str(work), json.dumps(self.sizes[measure])]
            try:
                result = run_worker(SCRIPT, args, cwd=cwd)
            except WorkerError as exc:
                message = f"{library} {measure}: {exc.detail}"
                self.errors.append(message)
                log(f"  ERROR {message}")
                return None
        if "error" in result:
            message = f"{library} {measure}: {result['error']}\n{result['traceback']}"
            self.errors.append(message)
            log(f"  ERROR {message}")
            return None
        return result


def how_many(repeats: int) -> str:
    return "timed once (a long measurement)" if repeats == 1 else f"median of {repeats}"


def ratio(better: float | None, worse: float | None) -> float | None:
    if better is None or worse is None or better <= 0:
        return None
    return worse / better


def row_log_metric(lm: dict | None, mf: dict | None, s: dict[str, Any]) -> Row:
    rate_l = lm["calls"] / median(lm["times"]) if lm else None
    rate_m = mf["calls"] / median(mf["times"]) if mf else None
    r = ratio(rate_m, rate_l)
    row = Row(
        name="log_metric, calls/s (1 key, through flush)",
        loopml=f"{fmt_rate(rate_l, ' calls/s')} ({fmt_seconds(median(lm['times']))} / "
        f"{lm['calls']:,})"
        if lm
        else "ERROR",
        anchor=f"{fmt_rate(rate_m, ' calls/s')} ({fmt_seconds(median(mf['times']))} / "
        f"{mf['calls']:,})"
        if mf
        else "ERROR",
        ratio=fmt_ratio(r),
        target=f"≥ {TARGETS['log_metric_ratio']:.0f}x",
        passed=None if r is None else r >= TARGETS["log_metric_ratio"],
    )
    row.notes.append(
        f"loopml: {s['loopml_calls']:,} `run.log_metric(k, v, step=i)` calls then `ml.flush()`, "
        f"{how_many(s['loopml_repeats'])}; MLflow: {s['mlflow_calls']:,} "
        f"`mlflow.log_metric(k, v, step=i)` calls (synchronous, the default; MLflow is "
        f"~ms per call), {how_many(s['mlflow_repeats'])}; compared as calls per second"
    )
    return row


def row_bulk(lm: dict | None, mf: dict | None, s: dict[str, Any]) -> Row:
    t_l = median(lm["times"]) if lm else None
    rate_l = lm["points"] / t_l if lm else None
    rate_m = mf["points"] / median(mf["times"]) if mf else None
    full = s["keys"] * s["loopml_steps"]
    t_m = full / rate_m if rate_m else None
    r = ratio(t_l, t_m)
    row = Row(
        name=f"{full:,} points via log_metrics ({s['keys']} keys x {s['loopml_steps']:,} steps), "
        "through run end",
        loopml=f"{fmt_seconds(t_l)} ({fmt_rate(rate_l, ' points/s')})" if lm else "ERROR",
        anchor=f"~{fmt_seconds(t_m)} extrapolated ({fmt_rate(rate_m, ' points/s')})"
        if mf
        else "ERROR",
        ratio=fmt_ratio(r),
        target=f"loopml < {TARGETS['bulk_seconds']:.0f} s",
        passed=None if t_l is None else t_l < TARGETS["bulk_seconds"],
    )
    row.notes.append(
        f"loopml: `run.log_metrics(dict_of_{s['keys']}, step=i)` for {s['loopml_steps']:,} "
        f"steps, timed from the first call through `run.end()`, "
        f"{how_many(s['loopml_repeats'])}; MLflow: `mlflow.log_metrics` of the same shape on "
        f"a {s['keys'] * s['mlflow_steps']:,}-point subset ({s['keys']} keys x "
        f"{s['mlflow_steps']:,} steps, through `mlflow.end_run()`), "
        f"{how_many(s['mlflow_repeats'])}; its time for {full:,} points is extrapolated from "
        "its throughput"
    )
    return row


def rows_search(lm: dict | None, mf: dict | None, s: dict[str, Any], matches: int) -> list[Row]:
    setup = Row(
        name=f"setup: {s['runs']:,} runs x (5 params + 5 metrics)",
        loopml=fmt_seconds(lm["setup"]) if lm else "ERROR",
        anchor=fmt_seconds(mf["setup"]) if mf else "ERROR",
        ratio=fmt_ratio(ratio(lm and lm["setup"], mf and mf["setup"])),
        target="(not a target)",
    )
    setup.notes.append(
        "loopml: `with ml.start_run('bench', name=...)`, `log_params`, `log_metrics`, end "
        "(one run at a time); MLflow through `MlflowClient` and `log_batch` (its fastest public "
        "path): "
        "`MlflowClient.create_run(run_name=...)` then one `log_batch` (5 metrics + 5 params), "
        "runs left RUNNING (no `set_terminated`, to save time; the search ignores status)"
    )
    t_l = median(lm["times"]) if lm else None
    t_m = median(mf["times"]) if mf else None
    r = ratio(t_l, t_m)
    search = Row(
        name=f"search_runs over {s['runs']:,} runs (metric + param filter, order by metric, "
        f"limit {SEARCH_LIMIT:,}; {matches:,} match)",
        loopml=fmt_seconds(t_l) if lm else "ERROR",
        anchor=fmt_seconds(t_m) if mf else "ERROR",
        ratio=fmt_ratio(r),
        target=f"≥ {TARGETS['search_ratio']:.0f}x",
        passed=None if r is None else r >= TARGETS["search_ratio"],
    )
    search.notes.append(
        f"loopml `ml.search_runs('bench', filter=\"{SEARCH_FILTER}\", order_by="
        f"'{LOOPML_ORDER}', limit={SEARCH_LIMIT})` vs MLflow `mlflow.search_runs("
        f"experiment_names=['bench'], filter_string=..., order_by={MLFLOW_ORDER}, "
        f"max_results={SEARCH_LIMIT})`, both returning a pandas DataFrame; median of "
        f"{s['repeats']} after one untimed warm-up call; both return the same "
        f"{min(SEARCH_LIMIT, matches):,} run names in the same order (checked against a plain "
        "Python answer)"
    )
    return [setup, search]


def row_history(lm: dict | None, mf: dict | None, s: dict[str, Any]) -> Row:
    t_l = median(lm["times"]) if lm else None
    t_m = median(mf["times"]) if mf else None
    row = Row(
        name=f"get_metric_history, {s['steps']:,} steps",
        loopml=fmt_seconds(t_l) if lm else "ERROR",
        anchor=fmt_seconds(t_m) if mf else "ERROR",
        ratio=fmt_ratio(ratio(t_l, t_m)),
        target="(no target)",
    )
    mf_how = how_many(s["mlflow_repeats"])
    row.notes.append(
        f"loopml `ml.get_metric_history(run_id, key)` (a DataFrame), median of "
        f"{s['loopml_repeats']} after one warm-up; MLflow `MlflowClient().get_metric_history` "
        f"(a list of Metric), {mf_how}; the MLflow run was filled with `log_batch` of 1,000 "
        "points per call"
    )
    return row


def row_import(lm: list[float], mf: list[float], repeats: int) -> Row:
    t_l, t_m = median(lm), median(mf)
    row = Row(
        name='python -c "import <lib>" (wall)',
        loopml=fmt_seconds(t_l),
        anchor=fmt_seconds(t_m),
        ratio=fmt_ratio(ratio(t_l, t_m)),
        target=f"loopml ≤ {TARGETS['import_seconds']:.2f} s",
        passed=t_l <= TARGETS["import_seconds"],
    )
    row.notes.append(
        f"median of {repeats} fresh subprocesses each, same interpreter ({sys.executable}), "
        "after one untimed warm-up run each; includes interpreter start-up"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write RESULTS.md even with --quick (a full run always writes it)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument(
        "--worker", nargs=4, metavar=("LIB", "MEASURE", "DIR", "JSON"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(*args.worker)

    # No usage telemetry from the anchor (there is no network here, and it is not measured).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    sizes = QUICK if args.quick else FULL
    runner = Runner(sizes, keep=args.keep)
    started = time.perf_counter()
    load_at_start = load_average()

    results: dict[tuple[str, str], dict[str, Any] | None] = {}
    for measure in ("log_metric", "bulk", "search", "history"):
        for library in ("loopml", "mlflow"):
            results[(library, measure)] = runner.measure(library, measure)

    log("[both] import time ...")
    n_imports = sizes["import_repeats"]
    imports = {lib: import_times(lib, n_imports) for lib in ("loopml", "mlflow")}

    matches = match_count(search_data(sizes["search"]["runs"]))
    expected = expected_names(search_data(sizes["search"]["runs"]))
    for library in ("loopml", "mlflow"):
        result = results[(library, "search")]
        if result is not None and result["names"] != expected:
            got, want = result["names"], expected
            missing = len(set(want) - set(got))
            extra = len(set(got) - set(want))
            same_set = set(got) == set(want)
            message = (
                f"{library} search_runs returned {len(got)} names, expected {len(want)} "
                f"({missing} missing, {extra} unexpected, same set: {same_set}, first got "
                f"{got[:3]}, first expected {want[:3]})"
            )
            runner.errors.append(message)
            log(f"  ERROR {message}")
            if not same_set:
                results[(library, "search")] = None
    if results[("loopml", "search")] and results[("mlflow", "search")]:
        assert set(results[("loopml", "search")]["names"]) == set(
            results[("mlflow", "search")]["names"]
        ), "loopml and MLflow search_runs returned different run names"

    get = results.get
    rows = [
        row_log_metric(
            get(("loopml", "log_metric")), get(("mlflow", "log_metric")), sizes["log_metric"]
        ),
        row_bulk(get(("loopml", "bulk")), get(("mlflow", "bulk")), sizes["bulk"]),
        *rows_search(
            get(("loopml", "search")), get(("mlflow", "search")), sizes["search"], matches
        ),
        row_import(imports["loopml"], imports["mlflow"], n_imports),
        row_history(get(("loopml", "history")), get(("mlflow", "history")), sizes["history"]),
    ]
    elapsed = time.perf_counter() - started
    command = ".venv-bench/bin/python bench/tracking.py" + (" --quick" if args.quick else "")
    print()
    print(text_table(headers_for(ANCHOR), row_cells(rows)))
    print(f"\n(total {elapsed / 60:.1f} min{', QUICK sizes' if args.quick else ''})")
    for row in rows:
        for note in row.notes:
            print(f"- {row.name}: {note}")

    notes = [
        f"total wall time of the benchmark: {elapsed / 60:.1f} min; load average (1/5/15 "
        f"min) at its start: {load_at_start} (other work on this {os.cpu_count()}-CPU machine "
        "adds noise to the absolute figures; both libraries ran in the same window)",
        "every measurement ran in a fresh worker subprocess with fresh SQLite stores in a "
        "fresh folder under bench/work/; loopml and MLflow logged the same values",
        "MLflow usage telemetry was off (MLFLOW_DISABLE_TELEMETRY=true); MLflow artifacts "
        "went to the temp folder",
    ]
    if args.quick:
        notes.insert(0, "QUICK smoke run: reduced sizes, not the targets' sizes")
    notes += [f"ERROR {e.splitlines()[0]}" for e in runner.errors]
    write = (not args.quick or args.write) and not args.no_write
    if write:
        info = machine_info(["loopml", "mlflow", "SQLAlchemy", "pandas", "numpy"])
        body = section_body(info=info, command=command, anchor=ANCHOR, rows=rows, notes=notes)
        path = write_section(SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {path.relative_to(REPO_DIR)}")
    if runner.errors:
        print("\nERRORS:", file=sys.stderr)
        for error in runner.errors:
            print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
