"""The run search query: experiment scope, filter, order and page, as one SELECT."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from loopml.store.tables import runs


def build_query(
    experiment_ids: Sequence[int] | None,
    filter: str | None,
    order_by: str | Sequence[str] | None,
    limit: int,
    offset: int,
) -> sa.Select:
    """Parameterised SQL only: user text becomes bound values, never SQL text."""
    from loopml.store.filter_language import parse_filter, parse_order_by
    from loopml.store.filter_sql import compile_filter, order_by_clauses

    query = sa.select(runs)
    if experiment_ids is not None:
        query = query.where(runs.c.experiment_id.in_(list(experiment_ids)))
    expr = parse_filter(filter)
    if expr is not None:
        query = query.where(compile_filter(expr))
    return query.order_by(*order_by_clauses(parse_order_by(order_by))).limit(limit).offset(offset)
