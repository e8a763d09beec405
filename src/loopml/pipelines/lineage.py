"""Lineage of a recorded pipeline run, read back from the store (no code is re-traced):
which step produced each output, from which inputs (by digest) and which code.

:func:`tree` returns plain data for ``loopml pipeline show RUN --json``; :func:`render_tree`
draws it with rich for the terminal.
"""

from __future__ import annotations

import json
from typing import Any

from loopml.errors import NotFound

GRAPH_ARTIFACT = "pipeline/graph.json"
_STATUS_MARK = {"executed": "✓", "cached": "↺", "failed": "✗", "skipped": "·"}


def tree(run_id: str) -> dict[str, Any]:
    """The pipeline run as a tree: the run, then its steps in execution order, each with its
    inputs (digest and producing step), outputs (digest and artifact path), code and cache
    key, status and child run id."""
    document = _graph(run_id)
    producers = {
        digest: step["node_id"] for step in document["steps"] for digest in step["output_digests"]
    }
    steps = []
    for step in document["steps"]:
        inputs = [
            {"argument": argument, "digest": digest, "from_step": producers.get(digest)}
            for argument, digests in step["inputs"].items()
            for digest in digests
        ]
        outputs = [
            {"index": i, "digest": digest, "path": path}
            for i, (digest, path) in enumerate(
                zip(step["output_digests"], step["output_paths"], strict=False)
            )
        ]
        steps.append(
            {
                "step": step["node_id"],
                "name": step["name"],
                "status": step["status"],
                "run_id": step["run_id"],
                "duration_s": step["duration_s"],
                "seed": step["seed"],
                "code_hash": step["code_hash"],
                "cache_key": step["cache_key"],
                "upstream": step["upstream"],
                "inputs": inputs,
                "outputs": outputs,
                "error": step["error"],
            }
        )
    return {
        "run_id": run_id,
        "pipeline": document["pipeline"],
        "status": document["status"],
        "seed": document["seed"],
        "steps": steps,
        "output": document["output"],
    }


def of_digest(run_id: str, digest: str) -> dict[str, Any]:
    """Lineage of one output of a recorded run: step, input digests, code hash."""
    for step in tree(run_id)["steps"]:
        for output in step["outputs"]:
            if output["digest"] == digest:
                return {
                    "digest": digest,
                    "step": step["step"],
                    "step_run_id": step["run_id"],
                    "inputs": step["inputs"],
                    "code_hash": step["code_hash"],
                    "cache_key": step["cache_key"],
                }
    raise NotFound(f"no step of pipeline run {run_id} produced an output with digest {digest}")


def render_tree(run_id: str, width: int = 100) -> str:
    """The tree as terminal text (rich, no colour codes): one branch per step with its status,
    timing and digests shortened to 12 characters."""
    from io import StringIO

    from rich.console import Console
    from rich.tree import Tree

    data = tree(run_id)
    root = Tree(
        f"pipeline {data['pipeline']}  run {data['run_id']}  {data['status']}  seed {data['seed']}"
    )
    for step in data["steps"]:
        mark = _STATUS_MARK.get(step["status"], "?")
        timing = f"{step['duration_s']:.3f}s" if step["duration_s"] else ""
        branch = root.add(f"{mark} {step['step']}  {step['status']}  {timing}".rstrip())
        if step["code_hash"]:
            branch.add(
                f"code {step['code_hash'][:12]}  cache key {(step['cache_key'] or '-')[:12]}"
            )
        for item in step["inputs"]:
            source = item["from_step"] or "?"
            branch.add(f"in  {item['argument']} ← {source} {item['digest'][:12]}")
        for item in step["outputs"]:
            branch.add(f"out {item['index']} {item['digest'][:12]}  {item['path']}")
        if step["error"]:
            branch.add(f"error {step['error'][:200]}")
    buffer = StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(root)
    return buffer.getvalue()


def _graph(run_id: str) -> dict[str, Any]:
    from loopml.tracking import state

    state.flush()
    run = state.get_store().get_run(run_id)
    for record in run.artifacts:
        if record.path == GRAPH_ARTIFACT:
            return json.loads(state.get_artifacts().read_bytes(record.sha256))
    raise NotFound(
        f"run {run_id} is not a pipeline run (it has no {GRAPH_ARTIFACT}); pass the id of the "
        "run that pipeline.run returned (PipelineRun.run_id)"
    )
