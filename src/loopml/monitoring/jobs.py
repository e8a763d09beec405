"""Monitoring as a scheduled job: ``loopml schedule add NAME --monitor churn@champion``.

The scheduler runs targets that have a ``run(**params)`` method (pipelines do); ``check`` is
such a target, stored as ``loopml.monitoring.jobs:check``, so alert rules are evaluated on a
cadence by the same scheduler that runs pipelines, with the same claim-once guarantees.
"""

from __future__ import annotations

from typing import Any

TARGET = "loopml.monitoring.jobs:check"


class _Check:
    """Evaluate the alert rules of one model (store, send and de-duplicate them)."""

    def run(self, model: str, window: str | None = None, last: int | None = None) -> Any:
        from loopml.monitoring.monitor import monitor

        return monitor(model, window=window, last=last, apply_alerts=True)


check = _Check()
