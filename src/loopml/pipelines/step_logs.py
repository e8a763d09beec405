"""What a step prints, kept with its run (``logs/output.txt``) and still shown live.

Standard output and error are teed while the step runs: the user sees prints as before,
and the step's run keeps a copy (capped at 1 MiB) for ``loopml pipeline show`` and later
debugging. Runs are sequential per process (in-process runner, one step per worker), so
swapping ``sys.stdout`` for the duration of a step is safe.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

LOG_PATH = "logs/output.txt"
MAX_CHARS = 1 << 20


class _Tee(io.TextIOBase):
    def __init__(self, original: TextIO, sink: io.StringIO) -> None:
        self.original = original
        self.sink = sink

    def write(self, text: str) -> int:
        if self.sink.tell() < MAX_CHARS:
            self.sink.write(text[: MAX_CHARS - self.sink.tell()])
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno...
        return getattr(self.original, name)


@contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Tee stdout and stderr into one buffer for the duration of the block."""
    sink = io.StringIO()
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, sink), _Tee(err, sink)  # type: ignore[assignment]
    try:
        yield sink
    finally:
        sys.stdout, sys.stderr = out, err


def stage_log(run: Any, text: str) -> None:
    """Attach the captured text to the step's run (nothing for a silent step)."""
    if text:
        run.stage_bytes(text.encode("utf-8", errors="replace"), LOG_PATH)
