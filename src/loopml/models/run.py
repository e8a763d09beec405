"""The run users get from ``ml.start_run``: a tracking run that can also log models.

``log_model`` belongs to the registry (floor 4), so the class that offers it lives here and
extends the tracking run (floor 3) instead of tracking reaching up into models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.store.entities import ModelVersion
from loopml.tracking import api as tracking_api
from loopml.tracking.run import Run as TrackingRun


class Run(TrackingRun):
    """A run in progress (see ``loopml.tracking.run.Run``) plus ``log_model``."""

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        input_example: Any = None,
        training_data: Any = None,
        target: str | None = None,
        reference_data: Any = None,
        reference_sample_rows: int = 5_000,
        flavor: str | None = None,
        trusted_pickle: bool = False,
        trusted_types: Sequence[str] = (),
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``, with this run as lineage."""
        from loopml.models.registry import register_model

        self._check_open()
        return register_model(
            model,
            name,
            input_example=input_example,
            training_data=training_data,
            target=target,
            reference_data=reference_data,
            reference_sample_rows=reference_sample_rows,
            run=self,
            flavor=flavor,
            trusted_pickle=trusted_pickle,
            trusted_types=trusted_types,
            description=description,
            tags=tags,
        )


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    seed: int | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = True,
) -> Run:
    """Start recording a run; use as ``with ml.start_run(...) as run:``.

    Started while another run is active, the new run is its child (same experiment unless
    given). ``seed`` seeds random, NumPy and torch. The run ends FINISHED when the block
    exits, FAILED (with the traceback) on an exception, KILLED on Ctrl-C or SIGTERM.
    ``run.log_model(model, "name", input_example=X[:50])`` registers a model version.
    """
    run = tracking_api.start_run(
        experiment, name, seed=seed, tags=tags, nested=nested, run_class=Run
    )
    assert isinstance(run, Run)
    return run
