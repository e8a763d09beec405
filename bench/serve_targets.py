"""The servers under test and the load generator of bench/serving.py.

A :class:`Server` is one prediction service started in its own session (process group), so
that stopping it also stops what it spawned (uvicorn workers, the ``uvicorn`` that ``mlflow
models serve`` execs). :func:`running` starts several side by side and always stops them.
:func:`wrk` runs the load generator with a Lua script that POSTs one fixed JSON body and
reports, as JSON, the request count, percentiles and every response that was not a 200.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One service: its command, environment, URL path and request body."""

    label: str
    command: list[str]
    path: str  # "/predict" or "/invocations"
    body: bytes
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        assert self.log_path is not None
        out = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        try:
            self.proc = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() reaches the workers
            )
        finally:
            out.close()

    def post(self, timeout: float = 10.0) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url, data=self.body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> Any:
        """Poll with the benchmark's own request until it answers 200; return its body."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                status, body = self.post(timeout=5)
                if status == 200:
                    return body
                last = f"HTTP {status}: {body}"
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(0.25)
        raise RuntimeError(f"{self.label} not ready after {timeout:.0f} s ({last}):\n"
                           f"{self.log_tail()}")

    def get_text(self, path: str, timeout: float = 5.0) -> str:
        with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
            return response.read().decode()

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after ``grace``."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pgid):
            self.proc.poll()
            time.sleep(0.1)
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc = None


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of a process group (from /proc)."""
    ticks = 0
    for pid in _pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine, all CPUs (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children (wrk, once it has exited)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombies of our own children still count as members until reaped
    return any(_pgid_of(pid) == pgid for pid in _pids())


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _pgid_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie does not hold the port or the CPU
        return None
    return int(fields[2])


@contextlib.contextmanager
def running(servers: Sequence[Server], timeout: float = 120.0) -> Iterator[list[Any]]:
    """Start ``servers`` together, wait until each answers, yield their first answers; always
    stop them all (also on errors and Ctrl-C)."""
    try:
        for server in servers:
            server.start()
        yield [server.wait_ready(timeout) for server in servers]
    finally:
        for server in servers:
            server.stop()


# -- load generator -----------------------------------------------------------------------
LUA_TEMPLATE = """\
-- POST one fixed JSON body; count every response that is not a 200.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}

non200 = 0
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non200\\": %d, " ..
    "\\"non2xx3xx\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, " ..
    "\\"timeout\\": %d, \\"p50_us\\": %.1f, \\"p90_us\\": %.1f, \\"p99_us\\": %.1f, " ..
    "\\"mean_us\\": %.1f, \\"max_us\\": %.1f}}\\n",
    summary.requests, summary.duration, bad, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def lua_script(body: bytes, path: Path) -> Path:
    """Write the wrk script that POSTs ``body`` (a Lua string literal, JSON-escaped)."""
    literal = json.dumps(body.decode())  # a JSON string is also a valid Lua string here
    path.write_text(LUA_TEMPLATE.format(body=literal))
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50: float  # seconds
    p90: float
    p99: float
    non200: int
    socket_errors: int
    command: str
    server_cpu: float = 0.0  # CPU seconds of the server's process group during the run
    wrk_cpu: float = 0.0  # CPU seconds of wrk
    machine_cpu: float = 0.0  # busy CPU seconds of the whole machine during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.non200 == 0 and self.socket_errors == 0 and self.requests > 0

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / self.requests if self.requests else 0.0

    @property
    def other_cpu(self) -> float:
        """CPUs busy with other work (neither the server nor wrk), on average."""
        return max(self.machine_cpu - self.server_cpu - self.wrk_cpu, 0.0) / self.seconds

    def problems(self) -> str:
        return f"{self.non200} non-200 responses, {self.socket_errors} socket errors"


def wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout_s: int = 10,
) -> WrkResult:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={timeout_s}s",
        "--latency", "-s", str(script), url,
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + timeout_s + 30
    )
    match = re.search(r"^WRK_JSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(match.group(1))
    return WrkResult(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        p50=r["p50_us"] / 1e6,
        p90=r["p90_us"] / 1e6,
        p99=r["p99_us"] / 1e6,
        non200=max(r["non200"], r["non2xx3xx"]),
        socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        command=" ".join(command),
    )


def wrk_version() -> str:
    proc = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = (proc.stdout or proc.stderr).strip().splitlines()
    match = re.match(r"wrk (\S+)", first[0]) if first else None
    return match.group(1) if match else "unknown"
