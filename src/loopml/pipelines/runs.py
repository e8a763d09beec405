"""What a pipeline run returns: per-step results, the output, and lineage by digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.errors import NotFound

EXECUTED, CACHED, FAILED, SKIPPED = "executed", "cached", "failed", "skipped"


@dataclass
class StepResult:
    """One node of a pipeline run. ``output_digests`` are sha256 of the stored outputs, in
    output order; ``inputs`` maps each argument that read another step to the digests it read."""

    name: str
    node_id: str
    status: str
    duration_s: float = 0.0
    output_digests: list[str] = field(default_factory=list)
    output_paths: list[str] = field(default_factory=list)
    cache_key: str | None = None
    code_hash: str | None = None
    run_id: str | None = None
    seed: int | None = None
    attempts: int = 0
    inputs: dict[str, list[str]] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PipelineRun:
    """The result of ``pipeline.run``: ``.output`` is what the pipeline function returned,
    with step handles replaced by their values (None when the run failed)."""

    name: str
    run_id: str
    status: str
    seed: int
    steps: list[StepResult]
    output: Any = None
    duration_s: float = 0.0

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for result in self.steps:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"<PipelineRun {self.name} {self.run_id} {self.status} ({summary})>"

    def step(self, node_id: str) -> StepResult:
        """The result of one step, by name (``name#2`` for the second call of a step)."""
        for result in self.steps:
            if result.node_id == node_id:
                return result
        known = ", ".join(r.node_id for r in self.steps)
        raise NotFound(f"pipeline run {self.run_id} has no step {node_id!r}; steps: {known}")

    def lineage(self, output_digest: str) -> dict[str, Any]:
        """Which step produced these bytes, from which inputs (by digest) and which code."""
        for result in self.steps:
            if output_digest in result.output_digests:
                return {
                    "digest": output_digest,
                    "step": result.node_id,
                    "step_run_id": result.run_id,
                    "output_index": result.output_digests.index(output_digest),
                    "inputs": {k: list(v) for k, v in result.inputs.items()},
                    "code_hash": result.code_hash,
                    "cache_key": result.cache_key,
                    "cached": result.status == CACHED,
                }
        raise NotFound(
            f"no step of pipeline run {self.run_id} produced an output with digest "
            f"{output_digest}; step outputs are listed in .steps[i].output_digests"
        )
