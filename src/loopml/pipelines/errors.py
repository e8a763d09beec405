"""Errors of pipeline runs. They derive from ``loopml.errors`` types so ``except LoopmlError``
catches them; they live here until ``loopml.errors`` adopts them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.errors import LoopmlError

if TYPE_CHECKING:
    from loopml.pipelines.runs import PipelineRun


class StepTimeout(LoopmlError, TimeoutError):
    """A step ran longer than its ``timeout``. Python cannot kill a thread: the step's worker
    thread is abandoned and may keep running (and using CPU) until its function returns."""


class PipelineFailed(LoopmlError):
    """A step failed after its retries. ``.run`` is the :class:`PipelineRun` (statuses of every
    step, the failed step's error); ``.step`` names the step; ``__cause__`` is the error."""

    def __init__(self, message: str, run: PipelineRun, step: str) -> None:
        super().__init__(message)
        self.run = run
        self.step = step
