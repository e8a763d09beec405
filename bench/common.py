"""Shared helpers for the side-by-side benchmarks in bench/ (tracking, serving, drift, ...).

Each benchmark script measures loopml and its anchor in ONE run on the same machine, prints a
table and rewrites its own ``## <Section>`` of ``bench/RESULTS.md`` with
:func:`write_section`, leaving the other sections as they are.

Measurements run in worker subprocesses (:func:`run_worker`) so that each library starts
from a fresh interpreter: no store, thread or cache of one measurement leaks into the next.
A worker prints one JSON object as the last line of its standard output.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "work"  # git-ignored; every measurement gets a fresh folder in it
RESULTS = BENCH_DIR / "RESULTS.md"
RESULTS_TITLE = "# Benchmark results"
RESULTS_INTRO = (
    "Side-by-side measurements of loopml against its anchors, each benchmark run in one "
    "process tree on one machine (see bench/README.md). Every section is rewritten by its own "
    "script; the others are kept."
)


# -- timing -----------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of ``fn()`` in seconds (``perf_counter``) and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def repeat(fn: Callable[[], float], repeats: int) -> list[float]:
    """Call ``fn`` (which returns one measured duration) ``repeats`` times."""
    return [float(fn()) for _ in range(repeats)]


@contextmanager
def fresh_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A new empty folder under bench/work/, removed afterwards unless ``keep``."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=WORK_DIR))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


# -- workers ----------------------------------------------------------------------------
class WorkerError(RuntimeError):
    """A worker subprocess failed; ``detail`` holds the end of its output."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what} failed:\n{detail}")
        self.what = what
        self.detail = detail


def run_worker(
    script: Path,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run ``python script *args`` with this interpreter; return the JSON of its last line.

    Its standard error passes through (progress shows live); on failure the end of its
    output is raised as :class:`WorkerError`.
    """
    command = [sys.executable, str(script), *args]
    proc = subprocess.run(
        command,
        cwd=cwd or REPO_DIR,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise WorkerError(" ".join(args), "\n".join(lines[-40:]) or f"exit {proc.returncode}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise WorkerError(" ".join(args), "\n".join(lines[-40:])) from exc


def emit(result: dict[str, Any]) -> None:
    """In a worker: hand ``result`` back to :func:`run_worker`."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


def log(message: str) -> None:
    """Progress on standard error (standard output carries the workers' JSON)."""
    print(message, file=sys.stderr, flush=True)


def import_times(module: str, repeats: int, python: str | None = None) -> list[float]:
    """Wall times of ``python -c "import <module>"`` in fresh subprocesses (one untimed
    warm-up first, so byte-code compilation and a cold page cache are not counted)."""
    command = [python or sys.executable, "-c", f"import {module}"]
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


# -- machine and versions ---------------------------------------------------------------
def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews the figures."""
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info(distributions: Sequence[str]) -> dict[str, str]:
    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_version()} ({sys.executable})",
        "load": load_average(),
    }
    for name in distributions:
        info[name] = version(name)
    return info


# -- results ----------------------------------------------------------------------------
@dataclass
class Row:
    """One line of a results table: loopml against its anchor.

    ``ratio`` is how many times better loopml is (anchor/loopml for times, loopml/anchor for
    throughputs); ``passed`` is None when the row has no target.
    """

    name: str
    loopml: str
    anchor: str
    ratio: str = ""
    target: str = ""
    passed: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "-"}[self.passed]


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second: float | None, unit: str = "/s") -> str:
    if per_second is None:
        return "n/a"
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M{unit}"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f} k{unit}"
    return f"{per_second:.0f}{unit}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def clean(cell: str) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


ROW_HEADERS = ("measurement", "loopml", "{anchor}", "ratio", "target", "result")


def row_cells(rows: Sequence[Row]) -> list[list[str]]:
    return [[r.name, r.loopml, r.anchor, r.ratio, r.target, r.verdict] for r in rows]


def headers_for(anchor: str) -> list[str]:
    return [h.format(anchor=anchor) for h in ROW_HEADERS]


def replace_section(text: str, title: str, body: str) -> str:
    """``text`` (markdown) with its ``## title`` block replaced by ``body``, or appended.

    A block runs from its ``## `` heading to the next ``## `` heading (or the end); the
    other blocks and the text before the first heading are kept as they are.
    """
    heading = f"## {title}"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    block = [heading, "", *body.strip("\n").splitlines(), ""]
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", *block]).strip("\n") + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join([*lines[:start], *block, *lines[end:]]).rstrip("\n") + "\n"


def write_section(title: str, body: str, path: Path = RESULTS) -> Path:
    """Rewrite the ``## title`` section of RESULTS.md (creating the file if needed)."""
    text = path.read_text() if path.exists() else f"{RESULTS_TITLE}\n\n{RESULTS_INTRO}\n"
    path.write_text(replace_section(text, title, body))
    return path


def section_header(info: dict[str, Any], command: str) -> list[str]:
    """When and where a section was measured, the versions and the command (consumes info)."""
    return [
        f"- date: {info.pop('date')}",
        f"- machine: {info.pop('nproc')} CPUs ({info.pop('cpu')}), {info.pop('os')}",
        f"- python: {info.pop('python')}",
        f"- load average (1/5/15 min) when the section was written: {info.pop('load')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        f"- command: `{command}`",
    ]


def section_body(
    *,
    info: dict[str, str],
    command: str,
    anchor: str,
    rows: Sequence[Row],
    notes: Sequence[str] = (),
) -> str:
    """The usual body of a section: when/where, the command, the table, then notes."""
    parts = [
        *section_header(info, command),
        "",
        markdown_table(headers_for(anchor), row_cells(rows)),
    ]
    row_notes = [f"- {r.name}: {n}" for r in rows for n in r.notes]
    if row_notes or notes:
        parts += ["", "Notes:", "", *row_notes, *(f"- {n}" for n in notes)]
    return "\n".join(parts)
