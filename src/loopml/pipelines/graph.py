"""The DAG of a traced pipeline: edges from handles, a stable topological order, and the
set of nodes downstream of a failure (which must not run)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from loopml.errors import InvalidInput
from loopml.pipelines.tracing import Node


def edges(nodes: Mapping[str, Node]) -> dict[str, list[str]]:
    """node id -> ids of the nodes it reads from."""
    result: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        upstream = node.upstream()
        unknown = [u for u in upstream if u not in nodes]
        if unknown:
            raise InvalidInput(
                f"step {node.name!r} reads the output of {unknown[0]!r}, which is not part of "
                "this pipeline; call that step inside the pipeline function"
            )
        result[node_id] = upstream
    return result


def topological_order(nodes: Mapping[str, Node]) -> list[str]:
    """Kahn's algorithm, ties broken by the order steps were called (stable, readable runs).
    Handles make cycles impossible by construction; this still refuses one, naming it."""
    parents = edges(nodes)
    children: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    waiting = {node_id: len(ups) for node_id, ups in parents.items()}
    for node_id, ups in parents.items():
        for up in ups:
            children[up].append(node_id)
    position = {node_id: i for i, node_id in enumerate(nodes)}
    ready = sorted((n for n, count in waiting.items() if count == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for child in children[current]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
                ready.sort(key=position.__getitem__)
    if len(order) != len(nodes):
        stuck = [n for n in nodes if n not in order]
        raise InvalidInput(
            f"the pipeline has a cycle through steps {', '.join(map(repr, stuck))}; a step "
            "cannot read its own output, directly or through other steps"
        )
    return order


def downstream(nodes: Mapping[str, Node], roots: Iterable[str]) -> set[str]:
    """Every node that reads, directly or not, from one of ``roots`` (roots excluded)."""
    parents = edges(nodes)
    children: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node_id, ups in parents.items():
        for up in ups:
            children[up].append(node_id)
    found: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children[stack.pop()]:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
