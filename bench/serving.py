"""Serving benchmark: `loopml serve` against `mlflow models serve`, side by side in one run.

    python bench/serving.py            # full: 10 s x 3 repeats per side, rewrites RESULTS.md
    python bench/serving.py --quick    # 3 s x 1, 1 worker only; prints only (see --write)

The same scikit-learn model (StandardScaler + LogisticRegression on the breast-cancer data)
is registered in a fresh loopml store and saved as an MLflow model; both services run from
this interpreter's virtualenv (.venv-bench) on 127.0.0.1 with the same worker count. The load
generator is wrk (one thread, closed loop) POSTing one fixed single-row JSON body; every
response must be a 200. Scenarios:

1. 16 connections: loopml (batching on, defaults) vs mlflow models serve, 1 and 2 workers.
2. 64 connections, 1 worker: loopml batching on vs `--no-batching`.
3. The floor: in-process ``model.predict`` / ``predict_proba`` on a one-row DataFrame.

Sides alternate within each scenario (A B, B A, A B, ...): both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO_DIR,
    WorkerError,
    emit,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    fresh_dir,
    load_average,
    log,
    machine_info,
    markdown_table,
    median,
    run_worker,
    section_header,
    sqlite_url,
    text_table,
    write_section,
)
from serve_targets import (  # noqa: E402
    Server,
    WrkResult,
    children_cpu_seconds,
    free_port,
    lua_script,
    machine_cpu_seconds,
    running,
    wrk,
    wrk_version,
)

SCRIPT = Path(__file__).resolve()
SECTION = "Serving: loopml vs mlflow models serve"
MODEL_NAME = "cancer"
MODEL_URI = f"{MODEL_NAME}@champion"
ROW_INDEX = 7  # the real row of the dataset sent in every request

FULL: dict[str, Any] = {
    "seconds": 10,
    "repeats": 3,
    "warmup_seconds": 3,
    "workers": [1, 2],
    "floor_calls": 3000,
    "floor_repeats": 3,
}
QUICK: dict[str, Any] = {
    "seconds": 3,
    "repeats": 1,
    "warmup_seconds": 1,
    "workers": [1],
    "floor_calls": 500,
    "floor_repeats": 1,
}
TARGETS = {
    "vs_mlflow": 3.0,  # loopml requests/s >= 3x mlflow's, 16 connections, same workers
    "batching": 3.0,  # batching on >= 3x batching off, 64 connections
}
CONNECTIONS = {"vs_mlflow": 16, "batching": 64}


# =======================================================================================
# Workers (fresh interpreters)
# =======================================================================================
def dataset() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    return X, data.target


def setup_worker(work: Path, _p: dict[str, Any]) -> dict[str, Any]:
    """Fit the model once; register it in loopml, save it for MLflow, pickle it for the floor."""
    import logging
    import warnings

    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import loopml

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    X, y = dataset()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)

    loopml.configure(store=sqlite_url(work / "loopml.db"), artifacts=str(work / "artifacts"))
    mv = loopml.register_model(model, MODEL_NAME, input_example=X.head(50), training_data=X)
    loopml.set_alias(MODEL_NAME, "champion", mv.version)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the integer-output schema hint
        mlflow.sklearn.save_model(model, str(work / "mlflow-model"), input_example=X.head(5))

    (work / "model.pkl").write_bytes(pickle.dumps(model))
    row = X.iloc[[ROW_INDEX]]
    records = row.to_dict(orient="records")
    return {
        "version": mv.version,
        "columns": list(X.columns),
        "loopml_body": json.dumps({"instances": records}),
        "mlflow_body": json.dumps({"dataframe_records": records}),
        "expected": model.predict(row).tolist(),
        "proba": model.predict_proba(row).tolist(),
    }


def floor_worker(work: Path, p: dict[str, Any]) -> dict[str, Any]:
    """In-process calls on the same fitted model: the physical floor of one prediction."""
    import pandas as pd

    model = pickle.loads((work / "model.pkl").read_bytes())
    X, _ = dataset()
    one = X.iloc[[ROW_INDEX]]
    records = one.to_dict(orient="records")
    batch = X.iloc[:64]
    calls, repeats = p["calls"], p["repeats"]

    cases: dict[str, tuple[Any, int, int]] = {
        "predict_1": (lambda: model.predict(one), 1, calls),
        "predict_proba_1": (lambda: model.predict_proba(one), 1, calls),
        "records_proba_1": (lambda: model.predict_proba(pd.DataFrame(records)), 1, calls),
        "predict_proba_64": (lambda: model.predict_proba(batch), 64, max(calls // 5, 50)),
    }
    out: dict[str, Any] = {}
    for name, (fn, rows, n) in cases.items():
        for _ in range(min(n, 200)):  # warm-up
            fn()
        per_call, rates = [], []
        for _ in range(repeats):
            durations = []
            start = time.perf_counter()
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                durations.append(time.perf_counter() - t0)
            total = time.perf_counter() - start
            per_call.append(median(durations))
            rates.append(n * rows / total)
        out[name] = {"rows": rows, "calls": n, "per_call": per_call, "rows_per_s": rates}
        log(f"  floor {name}: median {median(per_call) * 1e6:.0f} µs/call, "
            f"{median(rates):,.0f} rows/s")
    return out


WORKERS = {"setup": setup_worker, "floor": floor_worker}


def worker_main(measure: str, work: str, params: str) -> int:
    try:
        result = WORKERS[measure](Path(work), json.loads(params))
    except BaseException as exc:  # noqa: BLE001 - hand the failure back to the runner
        emit({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        return 1
    emit(result)
    return 0


# =======================================================================================
# Servers
# =======================================================================================
def bin_dir() -> Path:
    """The virtualenv's bin folder (not resolved: the venv's python is a symlink)."""
    return Path(sys.executable).parent


def loopml_server(work: Path, body: str, workers: int, batching: bool = True) -> Server:
    port = free_port()
    label = f"loopml serve, {workers} worker{'s' if workers > 1 else ''}" + (
        "" if batching else ", --no-batching"
    )
    command = [str(bin_dir() / "loopml"), "serve", MODEL_URI, "--port", str(port),
               "--workers", str(workers)]
    if not batching:
        command.append("--no-batching")
    return Server(
        label=label,
        command=command,
        path="/predict",
        body=body.encode(),
        port=port,
        env={
            "LOOPML_STORE": sqlite_url(work / "loopml.db"),
            "LOOPML_ARTIFACTS": str(work / "artifacts"),
        },
        cwd=work,  # no loopml.yaml up the tree: default policy
        log_path=work / f"server-loopml-{workers}-{'b' if batching else 'nb'}.log",
    )


def mlflow_server(work: Path, body: str, workers: int) -> Server:
    port = free_port()
    command = [str(bin_dir() / "mlflow"), "models", "serve", "-m", str(work / "mlflow-model"),
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
               "--workers", str(workers)]
    return Server(
        label=f"mlflow models serve, {workers} worker{'s' if workers > 1 else ''}",
        command=command,
        path="/invocations",
        body=body.encode(),
        port=port,
        # it execs `uvicorn` found on PATH: the one of this virtualenv
        env={"PATH": f"{bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"},
        cwd=work,
        log_path=work / f"server-mlflow-{workers}.log",
    )


def shown(server: Server) -> str:
    """The exact command line, with its environment (cwd: the run's work folder)."""
    env = " ".join(f"{k}={v}" for k, v in server.env.items() if k != "PATH")
    return f"{env + ' ' if env else ''}{' '.join(server.command)}"


def loopml_stats(server: Server) -> dict[str, float]:
    """From loopml's /metrics (one worker's registry): batches and prediction-log health."""
    try:
        text = server.get_text("/metrics")
    except OSError:
        return {}

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))

    return {
        "batches": total("loopml_batch_rows_count"),
        "rows": total("loopml_batch_rows_sum"),
        "log_dropped": total("loopml_prediction_log_dropped_total"),
        "log_pending": total("loopml_prediction_log_pending"),
    }


# =======================================================================================
# Measurement
# =======================================================================================
class Bench:
    def __init__(self, work: Path, sizes: dict[str, Any]) -> None:
        self.work = work
        self.sizes = sizes
        self.errors: list[str] = []
        self.commands: dict[str, str] = {}
        self.stats: dict[str, dict[str, float]] = {}  # loopml /metrics after the last pair

    def check_answer(self, server: Server, answer: Any, expected: list[Any]) -> None:
        got = answer.get("predictions") if isinstance(answer, dict) else None
        if got != expected:
            self.fail(f"{server.label} answered {answer!r}, expected predictions {expected}")

    def fail(self, message: str) -> None:
        self.errors.append(message)
        log(f"  ERROR {message}")

    def load(
        self, server: Server, script: Path, connections: int, seconds: float, scenario: str = ""
    ) -> WrkResult:
        before = server.cpu_seconds(), children_cpu_seconds(), machine_cpu_seconds()
        result = wrk(server.url, script, connections=connections, seconds=seconds)
        after = server.cpu_seconds(), children_cpu_seconds(), machine_cpu_seconds()
        result.server_cpu, result.wrk_cpu, result.machine_cpu = (
            b - a for a, b in zip(before, after, strict=True)
        )
        if seconds == self.sizes["seconds"]:
            self.commands[f"{scenario}wrk against {server.label}"] = result.command
        return result

    def pair(
        self,
        scenario: str,
        servers: list[Server],
        scripts: list[Path],
        connections: int,
        expected: list[Any],
    ) -> list[list[WrkResult] | None]:
        """Warm both up, then measure them alternately; a side with any failed run is None."""
        seconds, repeats = self.sizes["seconds"], self.sizes["repeats"]
        with running(servers) as answers:
            for server, answer in zip(servers, answers, strict=True):
                self.check_answer(server, answer, expected)
                self.commands[f"{scenario}{server.label}"] = shown(server)
            for server, script in zip(servers, scripts, strict=True):
                warm = self.load(server, script, connections, self.sizes["warmup_seconds"])
                log(f"  warm-up {server.label}: {warm.requests} requests, {warm.problems()}")
                if not warm.ok:
                    self.fail(f"{server.label}, warm-up at c={connections}: {warm.problems()}")
            results: list[list[WrkResult]] = [[] for _ in servers]
            for rep in range(repeats):
                order = list(range(len(servers)))
                if rep % 2:
                    order.reverse()
                for i in order:
                    r = self.load(servers[i], scripts[i], connections, seconds, scenario)
                    results[i].append(r)
                    log(f"  {servers[i].label}, c={connections}, run {rep + 1}/{repeats}: "
                        f"{r.rps:,.0f} req/s, p50 {r.p50 * 1e3:.1f} ms, "
                        f"p99 {r.p99 * 1e3:.1f} ms, server CPU {r.cpu_per_request * 1e6:.0f} "
                        f"µs/request ({r.server_cpu / r.seconds:.0%} of a CPU), other work on "
                        f"the machine {r.other_cpu:.2f} CPUs, {r.problems()}")
            self.stats = {s.label: loopml_stats(s) for s in servers if s.path == "/predict"}
        out: list[list[WrkResult] | None] = []
        for server, runs in zip(servers, results, strict=True):
            bad = [r for r in runs if not r.ok]
            if bad:
                self.fail(f"{server.label}, c={connections}: {len(bad)} of {len(runs)} runs "
                          f"had failures ({'; '.join(r.problems() for r in bad)})")
                out.append(None)
            else:
                out.append(runs)
        return out


def summary(runs: list[WrkResult] | None) -> dict[str, float] | None:
    if not runs:
        return None
    return {
        "rps": median(r.rps for r in runs),
        "p50": median(r.p50 for r in runs),
        "p99": median(r.p99 for r in runs),
        "cpu_per_req": median(r.cpu_per_request for r in runs),
        "server_cpus": median(r.server_cpu / r.seconds for r in runs),
        "other_cpus": [round(r.other_cpu, 2) for r in runs],
        "requests": sum(r.requests for r in runs),
        "each": [round(r.rps) for r in runs],
    }


def workers_text(n: int) -> str:
    return f"{n} worker{'s' if n > 1 else ''}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def fmt_ms(seconds: float | None) -> str:
    return fmt_seconds(seconds)


def cpu_cell(s: dict[str, Any] | None) -> str:
    if not s:
        return "n/a"
    return f"{fmt_seconds(s['cpu_per_req'])} ({s['server_cpus']:.2f} CPUs busy)"


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "-"}[passed]


def compare_rows(
    lead: str, a: dict[str, float] | None, b: dict[str, float] | None, target: float
) -> tuple[list[list[str]], float | None]:
    """Rows: requests/s (target), p50, p99. Ratios say how many times better ``a`` is."""
    rps = ratio(a and a["rps"], b and b["rps"])
    rows = [
        [lead, "requests/s", fmt_rate(a and a["rps"]) if a else "FAILED",
         fmt_rate(b and b["rps"]) if b else "FAILED", fmt_ratio(rps), f"≥ {target:g}x",
         verdict(None if rps is None else rps >= target)],
        [lead, "p50 latency", fmt_ms(a and a["p50"]), fmt_ms(b and b["p50"]),
         fmt_ratio(ratio(b and b["p50"], a and a["p50"])), "", "-"],
        [lead, "p99 latency", fmt_ms(a and a["p99"]), fmt_ms(b and b["p99"]),
         fmt_ratio(ratio(b and b["p99"], a and a["p99"])), "", "-"],
        [lead, "server CPU per request (all its processes)", cpu_cell(a), cpu_cell(b),
         fmt_ratio(ratio(b and b["cpu_per_req"], a and a["cpu_per_req"])), "", "-"],
    ]
    return rows, rps


def describe(rps_ratio: float | None, target: float, what: str) -> str:
    if rps_ratio is None:
        return f"{what}: no valid measurement (see the errors below)."
    if rps_ratio >= target:
        return f"{what}: {rps_ratio:.1f}x, the ≥ {target:g}x target is met."
    short = target / rps_ratio
    return (f"{what}: {rps_ratio:.2f}x, the ≥ {target:g}x target is MISSED (it needs "
            f"{short:.2f}x more, i.e. {(short - 1) * 100:.0f}% more requests/s).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke test")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--worker", nargs=3, metavar=("MEASURE", "DIR", "JSON"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(*args.worker)

    # A SIGTERM unwinds like Ctrl-C: the finally blocks stop every server started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    load_at_start = load_average()
    with fresh_dir("serving", keep=args.keep) as work:
        log(f"[setup] model, loopml store and MLflow model in {work.relative_to(REPO_DIR)}")
        try:
            model = run_worker(SCRIPT, ["--worker", "setup", str(work), "{}"])
        except WorkerError as exc:
            log(str(exc))
            return 1
        if "error" in model:
            log(model.get("traceback", model["error"]))
            return 1
        expected = model["expected"]
        bench = Bench(work, sizes)
        lua = {
            "loopml": lua_script(model["loopml_body"].encode(), work / "loopml.lua"),
            "mlflow": lua_script(model["mlflow_body"].encode(), work / "mlflow.lua"),
        }

        s1: dict[int, tuple[dict[str, float] | None, dict[str, float] | None]] = {}
        stats1: dict[int, dict[str, Any]] = {}
        for workers in sizes["workers"]:
            log(f"[1] 16 connections, {workers_text(workers)}: loopml vs mlflow models serve")
            servers = [
                loopml_server(work, model["loopml_body"], workers),
                mlflow_server(work, model["mlflow_body"], workers),
            ]
            try:
                lm, mf = bench.pair(f"[1, {workers_text(workers)}] ", servers,
                                    [lua["loopml"], lua["mlflow"]],
                                    CONNECTIONS["vs_mlflow"], expected)
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                bench.fail(f"scenario 1 ({workers_text(workers)}): {exc}")
                lm = mf = None
            s1[workers] = (summary(lm), summary(mf))
            stats1[workers] = bench.stats.get(servers[0].label, {})
            bench.stats = {}

        log("[2] 64 connections, 1 worker: loopml batching on vs --no-batching")
        servers = [
            loopml_server(work, model["loopml_body"], 1, batching=True),
            loopml_server(work, model["loopml_body"], 1, batching=False),
        ]
        try:
            on, off = bench.pair("[2] ", servers, [lua["loopml"], lua["loopml"]],
                                 CONNECTIONS["batching"], expected)
        except Exception as exc:  # noqa: BLE001
            bench.fail(f"scenario 2: {exc}")
            on = off = None
        s2 = (summary(on), summary(off))
        stats2 = bench.stats
        label_on, label_off = servers[0].label, servers[1].label

        log("[3] the floor: in-process calls")
        floor: dict[str, Any] | None
        try:
            floor = run_worker(SCRIPT, ["--worker", "floor", str(work), json.dumps(
                {"calls": sizes["floor_calls"], "repeats": sizes["floor_repeats"]})])
            if "error" in floor:
                bench.fail(f"floor: {floor['error']}")
                floor = None
        except WorkerError as exc:
            bench.fail(f"floor: {exc}")
            floor = None

    elapsed = time.perf_counter() - started
    return report(args, sizes, model, bench, s1, stats1, s2, stats2, label_on, label_off,
                  floor, elapsed, load_at_start)


# =======================================================================================
# Report
# =======================================================================================
def report(
    args: argparse.Namespace,
    sizes: dict[str, Any],
    model: dict[str, Any],
    bench: Bench,
    s1: dict[int, tuple[dict[str, float] | None, dict[str, float] | None]],
    stats1: dict[int, dict[str, Any]],
    s2: tuple[dict[str, float] | None, dict[str, float] | None],
    stats2: dict[str, dict[str, Any]],
    label_on: str,
    label_off: str,
    floor: dict[str, Any] | None,
    elapsed: float,
    load_at_start: str,
) -> int:
    seconds, repeats = sizes["seconds"], sizes["repeats"]
    c1, c2 = CONNECTIONS["vs_mlflow"], CONNECTIONS["batching"]

    # -- tables -------------------------------------------------------------------------
    headers1 = ["workers", "measurement", "loopml serve", "mlflow models serve",
                "loopml better by", "target", "result"]
    rows1: list[list[str]] = []
    ratios1: dict[int, float | None] = {}
    for workers, (lm, mf) in s1.items():
        rows, ratios1[workers] = compare_rows(str(workers), lm, mf, TARGETS["vs_mlflow"])
        rows1 += rows
    headers2 = ["workers", "measurement", "batching on (default)", "--no-batching",
                "batching better by", "target", "result"]
    rows2, ratio2 = compare_rows("1", s2[0], s2[1], TARGETS["batching"])

    headers3 = ["in-process call (same fitted Pipeline, no HTTP)", "median per call", "rows/s"]
    rows3: list[list[str]] = []
    names = {
        "predict_1": "`model.predict(df)`, 1-row DataFrame",
        "predict_proba_1": "`model.predict_proba(df)`, 1-row DataFrame",
        "records_proba_1": "`model.predict_proba(pd.DataFrame([record]))` (frame built per call)",
        "predict_proba_64": "`model.predict_proba(df)`, 64-row DataFrame",
    }
    if floor:
        for key, label in names.items():
            f = floor[key]
            rows3.append([label, fmt_seconds(median(f["per_call"])),
                          fmt_rate(median(f["rows_per_s"]), " rows/s")])

    # -- the paragraph ------------------------------------------------------------------
    said: list[str] = []
    for workers, r in ratios1.items():
        said.append(describe(r, TARGETS["vs_mlflow"],
                             f"loopml vs mlflow models serve at {c1} connections, "
                             f"{workers_text(workers)} (requests/s)"))
    said.append(describe(ratio2, TARGETS["batching"],
                         f"loopml batching on vs --no-batching at {c2} connections (requests/s)"))
    one_w, two_w = s1.get(1, (None, None))[0], s1.get(2, (None, None))[0]
    if one_w and two_w:
        line = (f"loopml with 2 workers: {two_w['rps']:,.0f} requests/s vs {one_w['rps']:,.0f} "
                f"with 1 ({two_w['rps'] / one_w['rps']:.2f}x)")
        b1, b2 = stats1.get(1, {}), stats1.get(2, {})
        if two_w["rps"] < 1.3 * one_w["rps"]:
            line += (f"; 2 workers add little on this {os.cpu_count()}-CPU machine, where wrk "
                     "and any other work share the CPUs with them")
            if b1.get("batches") and b2.get("batches"):
                per1, per2 = b1["rows"] / b1["batches"], b2["rows"] / b2["batches"]
                line += (f", and each worker's batches are smaller ({per2:.1f} vs {per1:.1f} "
                         "rows per model call)")
        said.append(line + ".")
    if s2[0] and s2[1]:
        on, off = s2
        tail = (
            f"Latency at {c2} connections: batching cuts the median from "
            f"{fmt_seconds(off['p50'])} to {fmt_seconds(on['p50'])}"
        )
        if on["p99"] > off["p99"]:
            tail += (
                f", but its p99 is worse ({fmt_seconds(on['p99'])} vs "
                f"{fmt_seconds(off['p99'])})."
            )
        else:
            tail += f" and the p99 from {fmt_seconds(off['p99'])} to {fmt_seconds(on['p99'])}."
        said.append(tail)
    if floor and s2[0]:
        one = median(floor["predict_proba_1"]["rows_per_s"])
        batch64 = median(floor["predict_proba_64"]["rows_per_s"])
        said.append(
            f"The floor: one in-process `predict_proba` on a 1-row frame runs at "
            f"{one:,.0f} rows/s ({fmt_seconds(1 / one)} a call) and on a 64-row frame at "
            f"{batch64:,.0f} rows/s: nearly all the cost of a 1-row call is fixed "
            f"per call (pandas/scikit-learn overhead), which is why merging requests pays. "
            f"loopml with batching served {s2[0]['rps']:,.0f} rows/s over HTTP at {c2} "
            f"connections ({s2[0]['rps'] / one:.2f}x the 1-row in-process floor)"
            + (f"; without batching {s2[1]['rps']:,.0f} rows/s ({s2[1]['rps'] / one:.2f}x)."
               if s2[1] else ".")
        )
    batch_notes = []
    labelled = [(f"scenario 1, loopml {workers_text(w)}", w, s) for w, s in stats1.items()]
    labelled += [(f"scenario 2, {k}", 1, s) for k, s in stats2.items()]
    for label, workers, st in labelled:
        if st and st.get("batches"):
            batch_notes.append(
                f"{label}, from its /metrics after the runs"
                + (" (summed over the workers)" if workers > 1 else "")
                + f": {st['rows'] / st['batches']:.1f} rows per model call on average "
                f"(warm-up included), prediction log dropped {st['log_dropped']:.0f} events, "
                f"{st['log_pending']:.0f} pending"
            )

    # -- notes and commands ---------------------------------------------------------------
    each = []
    for workers, (lm, mf) in s1.items():
        for name, s in (("loopml", lm), ("mlflow", mf)):
            if s:
                each.append(f"scenario 1, {workers_text(workers)}, {name}: {s['each']} req/s")
    for name, s in (("batching on", s2[0]), ("--no-batching", s2[1])):
        if s:
            each.append(f"scenario 2, {name}: {s['each']} req/s")
    others = [c for lm_mf in (*s1.values(), s2) for x in lm_mf if x for c in x["other_cpus"]]
    notes = [
        f"each figure is the median of {repeats} wrk runs of {seconds} s per side, after a "
        f"{sizes['warmup_seconds']} s wrk warm-up per server at the same concurrency; the "
        "two sides of a scenario were both up and measured alternately (the order flips every "
        "repeat: A B, B A, A B); every "
        "run had 0 non-200 responses and 0 socket errors unless an ERROR line below says "
        "otherwise; before the runs each server's answer to the benchmark request was "
        f"checked (prediction {model['expected']} for row {ROW_INDEX})",
        "wrk is a closed-loop generator (each connection waits for its answer before the next "
        "request): latencies are those of a saturated server, and p99 includes queueing",
        "mlflow models serve (MLflow 3) runs `uvicorn mlflow.pyfunc.scoring_server.app:app` "
        "(FastAPI), 1 worker by default; it logs every request line (uvicorn's access log, "
        "its default, to a file here); loopml serve runs uvicorn with the access log off "
        "(its default), validates each row against the signature, answers probabilities and "
        "a prediction id, and appends every prediction to the store's prediction log "
        "(background writer, SQLite here)",
        "with 2 workers, each of wrk's 16 keep-alive connections is accepted by one worker "
        "when it opens, and the split between the workers varies from run to run (a run "
        "where one worker holds most connections looks like 1 worker): see the per-run "
        "figures and the CPUs busy",
        "per-run requests/s: " + "; ".join(each),
        "server CPU is the user + system time of the server's whole process group (uvicorn "
        "supervisor and workers) during each run, divided by its requests: unlike requests/s "
        "it depends much less on what else the machine was doing",
        *([f"other work on the machine during the measured runs (busy CPUs minus the server "
           f"and wrk, out of {os.cpu_count()}): {min(others):.2f} to {max(others):.2f} CPUs, "
           f"median {median(others):.2f}"] if others else []),
        *batch_notes,
        f"total wall time of the benchmark: {elapsed / 60:.1f} min; load average (1/5/15 min) "
        f"at its start: {load_at_start} (the machine is shared: absolute figures are noisy, "
        "the ratios of alternated runs less so)",
    ]
    if args.quick:
        notes.insert(0, "QUICK smoke run: short runs, not the targets' sizes")
    notes += [f"ERROR {e.splitlines()[0]}" for e in bench.errors]
    commands = [f"- {label}: `{cmd}`" for label, cmd in bench.commands.items()]
    command = ".venv-bench/bin/python bench/serving.py" + (" --quick" if args.quick else "")

    # -- print ----------------------------------------------------------------------------
    print()
    print(f"1. {c1} connections, single-row JSON")
    print(text_table(headers1, rows1))
    print(f"\n2. {c2} connections, loopml batching")
    print(text_table(headers2, rows2))
    if rows3:
        print("\n3. the floor")
        print(text_table(headers3, rows3))
    print()
    for line in said:
        print(line)
    for note in notes:
        print(f"- {note}")
    print(f"\n(total {elapsed / 60:.1f} min)")

    write = (not args.quick or args.write) and not args.no_write
    if write:
        info = machine_info(["loopml", "mlflow", "scikit-learn", "uvicorn", "fastapi",
                             "starlette", "pandas", "numpy"])
        info["wrk"] = wrk_version()
        parts = [
            *section_header(info, command),
            "- model: `make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))` on "
            "`load_breast_cancer(as_frame=True)` (30 float columns, spaces in names replaced by "
            "underscores); registered in loopml (`register_model(..., input_example=X.head(50),"
            " training_data=X)`, alias champion) and saved with `mlflow.sklearn.save_model("
            "model, path, input_example=X.head(5))`",
            f"- request: one real row (row {ROW_INDEX}) as JSON, `{{\"instances\": [{{...}}]}}` "
            "to loopml's /predict, `{\"dataframe_records\": [{...}]}` to MLflow's /invocations",
            "",
            f"### 1. {c1} connections, single-row requests, same worker count",
            "",
            markdown_table(headers1, rows1),
            "",
            f"### 2. {c2} connections: loopml's micro-batching on vs off",
            "",
            markdown_table(headers2, rows2),
            "",
            "### 3. The floor: the model called in-process",
            "",
            markdown_table(headers3, rows3) if rows3 else "(failed: see the errors below)",
            "",
            "What the numbers say:",
            "",
            *(f"- {s}" for s in said),
            "",
            "Commands (run from the run's temporary work folder, removed afterwards; ports are "
            "free ports picked at run time; warm-ups used the same wrk command with -d"
            f"{sizes['warmup_seconds']}s; the .lua script POSTs the body with Content-Type "
            "application/json and counts non-200 responses):",
            "",
            *commands,
            "",
            "Notes:",
            "",
            *(f"- {n}" for n in notes),
        ]
        path = write_section(SECTION, "\n".join(parts))
        print(f"\nwrote the '{SECTION}' section of {path.relative_to(REPO_DIR)}")
    if bench.errors:
        print("\nERRORS:", file=sys.stderr)
        for error in bench.errors:
            print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
