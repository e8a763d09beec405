"""Pipeline overhead: a 100-step pipeline of trivial steps, cold and fully cached.

loopml records every step as a tracked child run with its output stored content-addressed,
and looks each step up in the cache; Kedro (the anchor, when it installs beside loopml)
runs the same 100 nodes in memory with no tracking and no cache. Targets (issue 4): under
5 ms of overhead per step cold, under 1 s in total fully cached.

    python bench/pipelines.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import WORK_DIR, machine_info, markdown_table, write_section  # noqa: E402

STEPS = 100
REPEATS = 5


def loopml_worker(work: Path, steps: int, repeats: int) -> dict:
    import loopml as ml

    ml.configure(store=f"sqlite:///{work / 'loopml.db'}", artifacts=str(work / "artifacts"))

    @ml.step
    def inc(x: int) -> int:
        return x + 1

    @ml.pipeline
    def chain(n: int = steps):
        x = 0
        for _ in range(n):
            x = inc(x)
        return x

    chain.run(n=3, seed=999)  # imports, store creation
    cold, cached = [], []
    for repeat in range(repeats):
        started = time.perf_counter()
        result = chain.run(n=steps, seed=repeat, cache=False)
        cold.append(time.perf_counter() - started)
        assert result.output == steps
        started = time.perf_counter()
        again = chain.run(n=steps, seed=repeat)
        cached.append(time.perf_counter() - started)
        assert again.output == steps
        assert all(s.status == "cached" for s in again.steps)
    bare = min(timeit_bare(steps) for _ in range(3))
    return {"cold": cold, "cached": cached, "bare": bare}


def timeit_bare(steps: int) -> float:
    def inc(x: int) -> int:
        return x + 1

    started = time.perf_counter()
    x = 0
    for _ in range(steps):
        x = inc(x)
    return time.perf_counter() - started


def kedro_worker(steps: int, repeats: int) -> dict:
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import node, pipeline
    from kedro.runner import SequentialRunner

    def inc(x: int) -> int:
        return x + 1

    nodes = [node(inc, f"x{i}", f"x{i + 1}", name=f"inc{i}") for i in range(steps)]
    flow = pipeline(nodes)
    times = []
    for _ in range(repeats + 1):
        catalog = DataCatalog({"x0": MemoryDataset(0)})
        started = time.perf_counter()
        SequentialRunner().run(flow, catalog)
        times.append(time.perf_counter() - started)
    return {"cold": times[1:]}


def run_worker(kind: str, steps: int, repeats: int) -> dict | None:
    work = WORK_DIR / f"pipelines-{kind}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(work), str(steps), str(repeats)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0:
        print(f"[{kind}] failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, work, steps, repeats = args.worker
        result = (
            loopml_worker(Path(work), int(steps), int(repeats))
            if kind == "loopml"
            else kedro_worker(int(steps), int(repeats))
        )
        print(json.dumps(result))
        return
    steps, repeats = (20, 2) if args.quick else (STEPS, REPEATS)
    lm = run_worker("loopml", steps, repeats)
    kd = run_worker("kedro", steps, repeats)
    assert lm is not None, "the loopml measurement failed"
    cold = statistics.median(lm["cold"])
    cached = statistics.median(lm["cached"])
    per_step_ms = (cold - lm["bare"]) / steps * 1000
    rows = [
        [
            "cold, overhead per step",
            f"{per_step_ms:.2f} ms",
            "< 5 ms",
            "pass" if per_step_ms < 5 else "FAIL",
        ],
        [f"cold, {steps} steps in total", f"{cold:.3f} s", "-", "-"],
        [
            f"fully cached, {steps} steps in total",
            f"{cached:.3f} s",
            "< 1 s",
            "pass" if cached < 1 else "FAIL",
        ],
    ]
    anchor = "Kedro not installed in this environment"
    if kd is not None:
        kedro_cold = statistics.median(kd["cold"])
        rows.append(
            [
                f"Kedro SequentialRunner, {steps} nodes in memory (no tracking, no cache)",
                f"{kedro_cold:.3f} s ({kedro_cold / steps * 1000:.2f} ms/node)",
                "-",
                f"loopml cold / Kedro = {cold / kedro_cold:.2f}x",
            ]
        )
        from importlib import metadata

        anchor = f"Kedro {metadata.version('kedro')}"
    table = markdown_table(["measurement", "result", "target", "verdict"], rows)
    print(table)
    if args.quick or args.no_write:
        return
    info = machine_info(["loopml", "SQLAlchemy"])
    body = "\n".join(
        [
            f"- date: {info['date']}; {info['nproc']} CPUs; python {info['python']}; "
            f"load {info['load']}",
            f"- versions: loopml {info['loopml']}, SQLAlchemy {info['SQLAlchemy']}",
        f"- anchor: {anchor}",
            "- command: `.venv-bench/bin/python bench/pipelines.py`",
            f"- a chain of {steps} trivial steps (`x + 1`), SQLite store; median of {repeats} "
            "runs, each in one fresh worker process after a warm-up run; cold = `cache=False`, "
            "cached = the same run again",
            "",
            table,
            "",
            "Each loopml step is a tracked child run (params, duration, tags, its output stored "
            "content-addressed as JSON) and a cache lookup; Kedro's nodes do none of that, so the "
            "ratio is the price of tracking and caching, not a like-for-like race. ZenML was not "
            "measured: it needs a server/stack set-up that does not install offline here.",
        ]
    )
    write_section("Pipelines", body)


if __name__ == "__main__":
    main()
