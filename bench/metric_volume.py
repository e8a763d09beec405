"""10^7 metric points in one store: write time, size on disk, history read time.

The layout question of the tracking issue (MLflow keeps one SQL row per point and its search
and UI collapse past ~10^4 steps). Runs through the public API: 100 runs x 10 metrics x
10,000 steps, logged with ``run.log_metrics`` and flushed by the background writer.

    python bench/metric_volume.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / "work" / "metric_volume"


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10^6 points instead of 10^7")
    args = parser.parse_args()
    runs, keys, steps = (10, 10, 10_000) if args.quick else (100, 10, 10_000)

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    import loopml as ml

    ml.configure(store=f"sqlite:///{WORK / 'loopml.db'}", artifacts=str(WORK / "artifacts"))
    names = [f"m{k}" for k in range(keys)]
    started = time.perf_counter()
    run_ids = []
    for r in range(runs):
        with ml.start_run(experiment="volume", name=f"run{r}") as run:
            for step in range(steps):
                run.log_metrics({name: step * 0.001 + k for k, name in enumerate(names)}, step=step)
        run_ids.append(run.run_id)
    write_s = time.perf_counter() - started
    points = runs * keys * steps
    size_mb = sum(f.stat().st_size for f in WORK.glob("loopml.db*")) / 1e6

    reads = []
    for _ in range(5):
        t0 = time.perf_counter()
        history = ml.get_metric_history(run_ids[-1], "m3")
        reads.append(time.perf_counter() - t0)
    assert len(history) == steps
    search = []
    for _ in range(5):
        t0 = time.perf_counter()
        found = ml.search_runs("volume", filter="metrics.m1 > 1", order_by="metrics.m2 desc")
        search.append(time.perf_counter() - t0)
    assert len(found) == runs
    result = {
        "points": points,
        "write_s": write_s,
        "points_per_s": points / write_s,
        "db_mb": size_mb,
        "bytes_per_point": size_mb * 1e6 / points,
        "history_read_ms": statistics.median(reads) * 1000,
        "search_ms": statistics.median(search) * 1000,
    }
    for key, value in result.items():
        print(f"{key:>16}: {value:,.3f}")
    if not args.quick:
        write_results(result, runs, keys, steps)
    if not os.environ.get("LOOPML_BENCH_KEEP"):
        shutil.rmtree(WORK, ignore_errors=True)
    return result


def write_results(result: dict[str, float], runs: int, keys: int, steps: int) -> None:
    """The "Metric volume" section of RESULTS.md (no anchor: MLflow cannot hold this many
    points in a usable way; its per-point cost is in the Tracking section)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from common import machine_info, markdown_table, write_section

    info = machine_info(["loopml", "SQLAlchemy"])
    rows = [
        ["points written (public API, background writer)", f"{result['points']:,.0f}"],
        ["write time, through run ends", f"{result['write_s']:.1f} s"],
        ["throughput", f"{result['points_per_s'] / 1000:,.0f} k points/s"],
        ["SQLite file size", f"{result['db_mb']:.1f} MB ({result['bytes_per_point']:.1f} B/point)"],
        [f"{steps:,}-step history read (median of 5)", f"{result['history_read_ms']:.1f} ms"],
        [
            "search_runs with a metric filter and order (median of 5)",
            f"{result['search_ms']:.1f} ms",
        ],
    ]
    body = "\n".join(
        [
            f"- date: {info['date']}; {info['nproc']} CPUs; python {info['python']}",
            f"- versions: loopml {info['loopml']}, SQLAlchemy {info['SQLAlchemy']}",
            "- command: `.venv-bench/bin/python bench/metric_volume.py`",
            f"- shape: {runs} runs x {keys} metrics x {steps:,} steps, one store, "
            "`run.log_metrics(dict, step=i)`",
            "",
            markdown_table(["measurement", "loopml"], rows),
            "",
            "No anchor: MLflow stores one SQL row per point; at the points/s measured for it "
            "in the Tracking section (hundreds), 10^7 points would take hours.",
        ]
    )
    write_section("Metric volume (10^7 points)", body)


if __name__ == "__main__":
    main()
