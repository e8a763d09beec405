"""Drift benchmark: loopml's ``drift_report`` against Evidently's ``DataDriftPreset``.

    python bench/drift.py            # 1,000,000 + 1,000,000 rows (~10 minutes), rewrites RESULTS.md
    python bench/drift.py --quick    # 100,000 rows, a smoke run (prints only, see --write)

Both sides get the same frames (seeded NumPy, generated in each worker before anything is
measured): 20 numeric and 5 categorical columns, of which exactly 5 are shifted in current.
Each library runs in its own fresh worker subprocess: generate the data, one untimed warm-up
report on 1,000 rows (imports, caches), then the timed reports. Memory is the *additional*
peak resident memory of one report: the kernel's high-water mark (VmHWM) is reset through
/proc/self/clear_refs just before the report and read just after, minus the resident memory
before it; the same code measures both libraries.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from common import (
    REPO_DIR,
    Row,
    WorkerError,
    emit,
    fmt_ratio,
    fmt_seconds,
    headers_for,
    load_average,
    log,
    machine_info,
    markdown_table,
    median,
    row_cells,
    run_worker,
    section_body,
    text_table,
    write_section,
)

SCRIPT = Path(__file__).resolve()
SECTION = "Drift"
ANCHOR = "Evidently"
SEED = 20240611
N_NUMERIC, N_CATEGORICAL = 20, 5
SHIFTED = {
    "num_03": "scale x1.6 (gamma)",
    "num_08": "mean +0.5 std (normal)",
    "num_14": "mean +0.5 std (uniform)",
    "cat_1": "frequencies reversed (7 categories)",
    "cat_3": "frequencies reversed (15 categories)",
}
FULL = {"rows": 1_000_000, "loopml_repeats": 5, "evidently_repeats": 2}
QUICK = {"rows": 100_000, "loopml_repeats": 3, "evidently_repeats": 1}
TARGETS = {"speed_ratio": 20.0, "memory_ratio": 5.0}


# =======================================================================================
# Data (identical for both libraries)
# =======================================================================================
def make_frames(n: int, seed: int = SEED) -> tuple[Any, Any]:
    """Reference and current frames: 20 numeric + 5 categorical columns, 5 of them shifted.

    Numeric columns cycle through normal, lognormal, uniform and gamma; ``num_05`` and
    ``cat_2`` have 1% missing values on both sides. Categorical columns hold strings.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        family = i % 4

        def draw(shift_std: float = 0.0, scale: float = 1.0, family: int = family) -> Any:
            if family == 0:  # normal, std 2
                return rng.normal(10 + 2 * shift_std, 2 * scale, n)
            if family == 1:  # lognormal
                return rng.lognormal(0.0, 0.5 * scale, n)
            if family == 2:  # uniform on [0, 100), std 28.9
                return rng.uniform(0, 100 * scale, n) + 28.87 * shift_std
            return rng.gamma(2.0, 3.0 * scale, n)  # gamma, std 4.24

        name = f"num_{i:02d}"
        reference[name] = draw()
        if name == "num_03":
            current[name] = draw(scale=1.6)
        elif name in ("num_08", "num_14"):
            current[name] = draw(shift_std=0.5)
        else:
            current[name] = draw()
    for j in range(N_CATEGORICAL):
        k = 3 + 4 * j
        labels = np.array([f"c{j}_{v}" for v in range(k)])
        p = rng.dirichlet(np.ones(k) * 3)
        name = f"cat_{j}"
        reference[name] = labels[rng.choice(k, n, p=p)]
        current[name] = labels[rng.choice(k, n, p=p[::-1] if name in SHIFTED else p)]
    ref, cur = pd.DataFrame(reference), pd.DataFrame(current)
    for frame in (ref, cur):
        gaps = rng.random(n) < 0.01
        frame.loc[gaps, "num_05"] = np.nan
        frame.loc[rng.random(n) < 0.01, "cat_2"] = None
    return ref, cur


# =======================================================================================
# Memory: additional peak RSS of one call, measured the same way for both libraries
# =======================================================================================
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak resident memory of a block above the memory resident before it (bytes).

    Resets the kernel's high-water mark (``echo 5 > /proc/self/clear_refs``) and reads
    VmHWM afterwards; where that is not allowed, samples RSS every millisecond instead.
    """

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.before = _status_kb("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM reset via /proc/self/clear_refs"
            self._sampler = None
        except OSError:
            self.method = "RSS sampled every 1 ms"
            self._peak = self.before
            self._stop = threading.Event()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _status_kb("VmRSS"))
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        if self._sampler is None:
            peak = _status_kb("VmHWM")
        else:
            self._stop.set()
            self._sampler.join()
            peak = self._peak
        self.additional = max(0, peak - self.before) * 1024


# =======================================================================================
# Workers
# =======================================================================================
def loopml_runner() -> tuple[Any, Any]:
    import loopml as ml

    def run(reference: Any, current: Any) -> Any:
        return ml.drift_report(reference, current)

    def verdicts(report: Any) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "test": c.test,
                "statistic": c.statistic,
                "p_value": c.p_value,
                "threshold": c.threshold,
                "drifted": c.drifted,
            }
            for name, c in report.columns.items()
        }

    return run, verdicts


def evidently_runner() -> tuple[Any, Any]:
    import pandas as pd
    import pandas.core.dtypes.common as pandas_common

    if not hasattr(pandas_common, "infer_dtype_from_object"):
        # Evidently 0.7 imports this pandas-2 helper (used only by its column-type test,
        # never by drift); pandas 3 removed it. Provide it so Evidently imports.
        pandas_common.infer_dtype_from_object = lambda dtype: pd.api.types.pandas_dtype(dtype).type
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def run(reference: Any, current: Any) -> Any:
        return Report([DataDriftPreset()]).run(current, reference)

    def verdicts(snapshot: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        count = None
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("DriftedColumnsCount"):
                count = int(metric["value"]["count"])
            if not config["type"].endswith("ValueDrift"):
                continue
            method, threshold, value = config["method"], config["threshold"], metric["value"]
            # Evidently's rule: p-value tests drift below the threshold (K-S at or below),
            # distances at or above it.
            if "p_value" in method:
                drifted = value <= threshold if method.startswith("K-S") else value < threshold
            else:
                drifted = value >= threshold
            out[config["column"]] = {
                "test": method,
                "statistic": value,
                "p_value": None,
                "threshold": threshold,
                "drifted": bool(drifted),
            }
        flagged = sum(v["drifted"] for v in out.values())
        if count is not None and count != flagged:
            raise RuntimeError(f"Evidently counts {count} drifted columns, verdicts say {flagged}")
        return out

    return run, verdicts


def worker_main(library: str, params_json: str) -> int:
    try:
        params = json.loads(params_json)
        started = time.perf_counter()
        reference, current = make_frames(params["rows"])
        generate = time.perf_counter() - started
        run, verdicts = {"loopml": loopml_runner, "evidently": evidently_runner}[library]()
        run(reference.iloc[:1000], current.iloc[:1000])  # warm-up: imports and caches
        gc.collect()
        baseline = _status_kb("VmRSS") * 1024  # the frames, the library, the interpreter
        times, memory, method, result = [], [], "", None
        for _ in range(params["repeats"]):
            result = None
            gc.collect()
            with PeakMemory() as peak:
                start = time.perf_counter()
                result = run(reference, current)
                times.append(time.perf_counter() - start)
            memory.append(peak.additional)
            method = peak.method
        emit(
            {
                "times": times,
                "memory": memory,
                "memory_method": method,
                "generate_seconds": generate,
                "baseline_rss": baseline,
                "verdicts": verdicts(result),
            }
        )
    except BaseException as exc:  # noqa: BLE001 - hand the failure back to the runner
        emit({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        return 1
    return 0


def measure(library: str, rows: int, repeats: int, errors: list[str]) -> dict[str, Any] | None:
    log(f"[{library}] {rows:,} + {rows:,} rows, {repeats} timed report(s) ...")
    try:
        result = run_worker(
            SCRIPT, ["--worker", library, json.dumps({"rows": rows, "repeats": repeats})]
        )
    except WorkerError as exc:
        errors.append(f"{library}: {exc.detail}")
        log(f"  ERROR {errors[-1]}")
        return None
    if "error" in result:
        errors.append(f"{library}: {result['error']}\n{result['traceback']}")
        log(f"  ERROR {errors[-1]}")
        return None
    log(f"  times {', '.join(fmt_seconds(t) for t in result['times'])}")
    return result


# =======================================================================================
# The table
# =======================================================================================
def fmt_mb(n_bytes: float | None) -> str:
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:,.0f} MB"


def build_rows(lm: dict | None, ev: dict | None, sizes: dict[str, Any]) -> list[Row]:
    n = sizes["rows"]
    t_l = median(lm["times"]) if lm else None
    t_e = median(ev["times"]) if ev else None
    speed = t_e / t_l if t_l and t_e else None
    time_row = Row(
        name=f"drift report, {n:,} + {n:,} rows x {N_NUMERIC + N_CATEGORICAL} columns (wall)",
        loopml=f"{fmt_seconds(t_l)} (median of {len(lm['times'])})" if lm else "ERROR",
        anchor=(
            f"{fmt_seconds(t_e)} ("
            + (f"median of {len(ev['times'])}" if len(ev["times"]) > 1 else "timed once")
            + ")"
        )
        if ev
        else "ERROR",
        ratio=fmt_ratio(speed),
        target=f"≥ {TARGETS['speed_ratio']:.0f}x",
        passed=None if speed is None else speed >= TARGETS["speed_ratio"],
    )
    time_row.notes.append(
        "loopml `ml.drift_report(reference, current)` (default tests) vs Evidently "
        "`Report([DataDriftPreset()]).run(current, reference)`; each in its own fresh worker "
        "after one untimed warm-up on 1,000 rows; data generation is not timed; every run: "
        f"loopml {', '.join(fmt_seconds(t) for t in lm['times']) if lm else 'n/a'}, "
        f"Evidently {', '.join(fmt_seconds(t) for t in ev['times']) if ev else 'n/a'}"
    )
    m_l = max(lm["memory"]) if lm else None
    m_e = max(ev["memory"]) if ev else None
    mem_ratio = m_e / m_l if m_l and m_e else None
    memory_row = Row(
        name="additional peak memory of one report",
        loopml=fmt_mb(m_l),
        anchor=fmt_mb(m_e),
        ratio=fmt_ratio(mem_ratio),
        target=f"loopml ≤ 1/{TARGETS['memory_ratio']:.0f}",
        passed=None if mem_ratio is None else mem_ratio >= TARGETS["memory_ratio"],
    )
    method = (lm or ev or {}).get("memory_method", "?")
    memory_row.notes.append(
        f"peak resident memory during the report minus the resident memory just before it "
        f"({method}), the largest over each side's timed reports; the frames themselves "
        f"and the library (resident before the first report: loopml "
        f"{fmt_mb(lm and lm['baseline_rss'])}, Evidently {fmt_mb(ev and ev['baseline_rss'])}) "
        "are not counted"
    )
    flagged_l = sorted(k for k, v in lm["verdicts"].items() if v["drifted"]) if lm else None
    flagged_e = sorted(k for k, v in ev["verdicts"].items() if v["drifted"]) if ev else None
    want = sorted(SHIFTED)
    verdict_row = Row(
        name="columns flagged as drifted",
        loopml=", ".join(flagged_l) if flagged_l is not None else "ERROR",
        anchor=", ".join(flagged_e) if flagged_e is not None else "ERROR",
        ratio="same" if flagged_l == flagged_e else "differ",
        target="loopml = the 5 shifted",
        passed=None if flagged_l is None else flagged_l == want,
    )
    return [time_row, memory_row, verdict_row]


def verdict_table(lm: dict | None, ev: dict | None) -> str:
    def cell(side: dict | None, column: str) -> list[str]:
        if side is None or column not in side["verdicts"]:
            return ["-", "-", "-"]
        v = side["verdicts"][column]
        return [
            v["test"],
            f"{v['statistic']:.4g} (threshold {v['threshold']:g})",
            "**drift**" if v["drifted"] else "no drift",
        ]

    columns = list((lm or ev or {"verdicts": {}})["verdicts"])
    rows = [[c, SHIFTED.get(c, "-"), *cell(lm, c), *cell(ev, c)] for c in columns]
    headers = [
        "column",
        "shift in current",
        "loopml test",
        "loopml statistic",
        "loopml verdict",
        "Evidently test",
        "Evidently statistic",
        "Evidently verdict",
    ]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, a smoke run")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--worker", nargs=2, metavar=("LIB", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(*args.worker)

    os.environ.setdefault("DO_NOT_TRACK", "true")  # no usage telemetry from the anchor
    sizes = QUICK if args.quick else FULL
    started, load_at_start = time.perf_counter(), load_average()
    errors: list[str] = []
    lm = measure("loopml", sizes["rows"], sizes["loopml_repeats"], errors)
    ev = measure("evidently", sizes["rows"], sizes["evidently_repeats"], errors)
    rows = build_rows(lm, ev, sizes)
    table = verdict_table(lm, ev)
    elapsed = time.perf_counter() - started

    print()
    print(text_table(headers_for(ANCHOR), row_cells(rows)))
    print()
    print(table)
    for row in rows:
        for note in row.notes:
            print(f"- {row.name}: {note}")

    command = ".venv-bench/bin/python bench/drift.py" + (" --quick" if args.quick else "")
    notes = [
        f"data: {N_NUMERIC} numeric columns (normal, lognormal, uniform, gamma in turn) and "
        f"{N_CATEGORICAL} string columns (3 to 19 categories), {sizes['rows']:,} rows per side, "
        f"seed {SEED}; `num_05` and `cat_2` have 1% missing values on both sides; 5 columns "
        "are shifted in current (table below), the others are fresh draws of the same "
        "distribution",
        "default tests on both sides (reference > 1,000 rows): normed Wasserstein distance "
        "≥ 0.1 for numeric columns, Jensen-Shannon distance ≥ 0.1 for categorical ones; "
        "loopml's statistics equal scipy's (tests/monitoring/test_stats.py), so equal "
        "statistics on both sides are expected",
        "loopml compares columns on up to 2 threads (sorting releases the GIL); Evidently "
        "runs on one",
        "Evidently 0.7 imports `pandas.core.dtypes.common.infer_dtype_from_object`, which "
        "pandas 3 removed; the worker defines it before importing Evidently (it is used only "
        "by Evidently's column-type test, not by drift)",
        f"total wall time of the benchmark: {elapsed / 60:.1f} min; load average (1/5/15 min) "
        f"at its start: {load_at_start} (other work on this {os.cpu_count()}-CPU machine adds "
        "noise to the absolute figures; both libraries ran in the same window)",
    ]
    if args.quick:
        notes.insert(0, "QUICK smoke run: reduced sizes, not the targets' sizes")
    notes += [f"ERROR {e.splitlines()[0]}" for e in errors]
    if (not args.quick or args.write) and not args.no_write:
        info = machine_info(["loopml", "evidently", "pandas", "numpy", "scipy"])
        body = section_body(info=info, command=command, anchor=ANCHOR, rows=rows, notes=notes)
        body += "\n\nPer-column verdicts (statistic and threshold as each library reports "
        body += "them):\n\n" + table
        path = write_section(SECTION, body)
        print(f"\nwrote the '{SECTION}' section of {path.relative_to(REPO_DIR)}")
    if errors:
        print("\nERRORS:", file=sys.stderr)
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
