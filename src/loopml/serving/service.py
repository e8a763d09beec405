"""The prediction service without HTTP: models, batchers, validation, policy, log, reload.

``PredictionService.predict(rows)`` is what every endpoint calls (JSON ``/predict`` and v2
``/infer`` alike). Rows are queued in the micro-batcher of the chosen role (the champion, or
the canary share of traffic); the batch is validated once against the signature, bad rows go
back to their own request as per-instance problems (they never reach the model), good rows are
predicted in one vectorised call, the low-confidence policy is applied, and one prediction
event per row goes to the prediction log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.signature import validate
from loopml.models.values import python
from loopml.serving.batch_validation import as_problems, validate_batch
from loopml.serving.batcher import BatchLimits, Job, MicroBatcher
from loopml.serving.events import Answer, prediction_events
from loopml.serving.metrics import ServiceMetrics
from loopml.serving.options import ServeOptions
from loopml.serving.policy import ConfidencePolicy
from loopml.serving.prediction_log import PredictionLog
from loopml.serving.served_model import BatchOutput, ModelSlot, ServedModel, load_served, load_slot
from loopml.store.entities import PredictionEvent

log = logging.getLogger("loopml.serving")
_SHADOW_BACKLOG = 8


class RowsRejected(Exception):
    """The request's rows failed validation: answer 422 with ``detail``."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(detail)} problem(s) in the request")
        self.detail = detail


class PredictionService:
    def __init__(
        self,
        model_uri: str,
        options: ServeOptions | None = None,
        *,
        policy: ConfidencePolicy | None = None,
        pii: list[str] | None = None,
    ) -> None:
        self.options = options or ServeOptions()
        self.policy = policy
        self.metrics = ServiceMetrics()
        self.slots: dict[str, ModelSlot] = {"champion": load_slot(model_uri)}
        self.metrics.columns = frozenset(self.slots["champion"].model.columns)
        self.name = self.slots["champion"].model.name
        if self.options.challenger:
            uri = _challenger_uri(self.name, self.options.challenger)
            self.slots["challenger"] = load_slot(uri)
        if policy is not None and policy.below == "fallback" and policy.fallback_model:
            self.slots["fallback"] = load_slot(policy.fallback_model)
        limits = BatchLimits(
            max_batch_rows=self.options.max_batch_rows,
            max_wait_ms=self.options.max_wait_ms,
            max_latency_ms=self.options.max_latency_ms,
            max_queue_rows=self.options.max_queue_rows,
        )
        roles = ["champion"]
        if "challenger" in self.slots and self.options.challenger_mode == "canary":
            roles.append("challenger")
        self.batchers = {
            role: MicroBatcher(
                lambda jobs, role=role: self._process(role, jobs),
                limits,
                on_batch=lambda rows, jobs, _s: self.metrics.observe_batch(rows, jobs),
            )
            for role in roles
        }
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-shadow")
        self._shadow_pending = 0
        self._explainers: dict[int, Any] = {}
        self.log: PredictionLog | None = None
        if self.options.log_predictions:
            from loopml.tracking import state

            self.log = PredictionLog(
                state.get_store,
                model=self.name,
                pii=pii or [],
                max_buffer=self.options.log_buffer,
                flush_interval=self.options.flush_interval_s,
                stats_interval=self.options.stats_interval_s,
                snapshot=self.metrics.snapshot,
                on_tick=self.metrics.sample_process,
                on_drop=self.metrics.log_dropped.inc,
                on_failure=self.metrics.log_failures.inc,
            )
        self._show_versions()
        self.ready = True

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if self.log is not None:
            self.log.start()

    async def close(self) -> None:
        for batcher in self.batchers.values():
            await batcher.close()
        self._shadow_pool.shutdown(wait=True)
        if self.log is not None:
            await asyncio.to_thread(self.log.close)

    @property
    def champion(self) -> ServedModel:
        return self.slots["champion"].model

    # -- predictions ----------------------------------------------------------------
    async def predict(self, rows: list[list[Any]]) -> Answer:
        """Rows in the champion's column order -> this request's answer (or RowsRejected)."""
        role = "champion"
        if "challenger" in self.batchers and random.random() < self.options.canary_share:
            role = "challenger"
        return await self.batchers[role].submit(rows)

    def _process(self, role: str, jobs: list[Job]) -> list[Any]:
        """Runs in the batcher's thread: validate, predict, apply the policy, log."""
        served = self.slots[role].model  # one consistent version for the whole batch
        rows = [row for job in jobs for row in job.rows]
        fast = served.numeric_plan.check(rows) if served.numeric_plan is not None else None
        if fast is not None:
            rejected, valid_frame, warnings = {}, fast, {}
        else:
            frame = pd.DataFrame(rows, columns=served.columns)
            rejected, valid_frame, warnings = validate_batch(
                served.signature, [job.n for job in jobs], frame,
                unseen_categories=self.options.unseen_categories,
            )
            for detail in rejected.values():
                self.metrics.count_quality(detail, "rejected")
            for detail in warnings.values():
                self.metrics.count_quality(detail, "warning")
        good = [i for i in range(len(jobs)) if i not in rejected]
        results: list[Any] = [None] * len(jobs)
        for i, detail in rejected.items():
            results[i] = RowsRejected(detail)
        if not good:
            return results
        output = served.predict(valid_frame)
        statuses, predictions, probabilities = self._apply_policy(served, valid_frame, output)
        ids = [os.urandom(16).hex() for _ in range(len(valid_frame))]
        done = time.monotonic()
        events: list[PredictionEvent] = []
        start = 0
        for i in good:
            job = jobs[i]
            stop = start + job.n
            answer = Answer(
                model=served.name,
                version=served.version,
                columns=served.columns,
                predictions=predictions[start:stop],
                probabilities=None if probabilities is None else probabilities[start:stop],
                classes=served.classes,
                statuses=statuses[start:stop],
                prediction_ids=ids[start:stop],
                warnings=warnings.get(i, []),
            )
            results[i] = answer
            latency = (done - job.enqueued) * 1000  # queue wait + validation + model
            events.extend(prediction_events(served, job.rows, answer, output, start, latency))
            start = stop
        self.metrics.count_predictions(served.version, role, Counter(statuses))
        if self.log is not None:
            self.log.append(events)
        if role == "champion" and "challenger" in self.slots and "challenger" not in self.batchers:
            self._shadow(valid_frame, [r for i in good for r in jobs[i].rows], ids)
        return results

    def _apply_policy(
        self, served: ServedModel, frame: pd.DataFrame, output: BatchOutput
    ) -> tuple[list[str], list[Any], np.ndarray | None]:
        predictions = output.predictions.tolist()
        probabilities = output.probabilities
        statuses = ["ok"] * len(predictions)
        low = self.policy.low(output.confidence) if self.policy is not None else None
        if low is None or not low.any():
            return statuses, predictions, probabilities
        assert self.policy is not None
        positions = np.flatnonzero(low).tolist()
        status = self.policy.status
        if self.policy.below == "abstain":
            for p in positions:
                predictions[p] = None
        elif self.policy.below == "fallback" and "fallback" in self.slots:
            fallback = self.slots["fallback"].model
            answer = fallback.predict(frame.iloc[positions][fallback.columns])
            for j, p in enumerate(positions):
                predictions[p] = python(answer.predictions[j])
            same_classes = (
                probabilities is not None
                and answer.probabilities is not None
                and answer.probabilities.shape[1] == probabilities.shape[1]
            )
            if same_classes:
                probabilities = probabilities.copy()  # type: ignore[union-attr]
                probabilities[positions] = answer.probabilities
        for p in positions:
            statuses[p] = status
        return statuses, predictions, probabilities

    # -- feedback and explanations ---------------------------------------------------
    def add_feedback(self, payload: Any) -> dict[str, Any]:
        """Store feedback; a prediction still in the log's buffer is written first."""
        from loopml.errors import NotFound
        from loopml.serving.feedback import add_feedback
        from loopml.tracking import state

        try:
            return add_feedback(state.get_store(), payload)
        except NotFound:
            if self.log is None or not self.log.pending:
                raise
            self.log.flush()
            return add_feedback(state.get_store(), payload)

    def review_queue(self, limit: int) -> list[dict[str, Any]]:
        from loopml.serving.feedback import review_items
        from loopml.tracking import state

        return review_items(state.get_store(), self.name, limit)

    def explain(self, rows: list[list[Any]]) -> dict[str, Any]:
        """Contributions per feature for each row (RowsRejected when rows are invalid)."""
        served = self.champion
        frame = pd.DataFrame(rows, columns=served.columns)
        result = validate(served.signature, frame, unseen_categories=self.options.unseen_categories)
        if not result.ok:
            raise RowsRejected(as_problems(result.errors))
        explainer = self._explainers.get(served.version)
        if explainer is None:
            explainer = self._explainers[served.version] = _build_explainer(served)
        body = explainer.explain(result.frame).to_dict()
        return {"model": served.name, "version": served.version, **body}

    # -- shadow ---------------------------------------------------------------------
    def _shadow(self, frame: pd.DataFrame, rows: list[Any], champion_ids: list[str]) -> None:
        """Send a copy of the batch to the challenger off the request path (bounded)."""
        if self._shadow_pending >= _SHADOW_BACKLOG:
            self.metrics.predictions.labels("-", "shadow", "skipped").inc(len(rows))
            return
        self._shadow_pending += 1
        self._shadow_pool.submit(self._run_shadow, frame, rows, champion_ids)

    def _run_shadow(self, frame: pd.DataFrame, rows: list[Any], champion_ids: list[str]) -> None:
        try:
            served = self.slots["challenger"].model
            started = time.time()
            output = served.predict(frame[served.columns])
            latency = (time.time() - started) * 1000
            n = len(rows)
            answer = Answer(
                model=served.name,
                version=served.version,
                columns=served.columns,
                predictions=output.predictions.tolist(),
                probabilities=output.probabilities,
                classes=served.classes,
                statuses=["ok"] * n,
                prediction_ids=[os.urandom(16).hex() for _ in range(n)],
            )
            events = prediction_events(served, rows, answer, output, 0, latency)
            import dataclasses

            events = [
                dataclasses.replace(
                    e, shadow=True, outputs={**e.outputs, "champion_prediction_id": cid}
                )
                for e, cid in zip(events, champion_ids, strict=True)
            ]
            self.metrics.count_predictions(served.version, "shadow", Counter(ok=n))
            if self.log is not None:
                self.log.append(events)
        except Exception as exc:  # noqa: BLE001 - the challenger never hurts the champion
            log.warning("shadow prediction failed: %s", exc)
            self.metrics.predictions.labels("-", "shadow", "error").inc(len(rows))
        finally:
            self._shadow_pending -= 1

    # -- hot reload -----------------------------------------------------------------
    async def watch_aliases(self) -> None:
        """Poll the aliases served; load a moved one in the background, then swap."""
        interval = self.options.reload_interval_s
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            for role, slot in list(self.slots.items()):
                if "@" not in slot.uri:
                    continue
                try:
                    await asyncio.to_thread(self._reload_if_moved, role, slot)
                except Exception as exc:  # noqa: BLE001 - keep serving the old version
                    log.warning("hot reload of %s failed: %s", slot.uri, exc)
                    self.metrics.reloads.labels("failed").inc()

    def _reload_if_moved(self, role: str, slot: ModelSlot) -> bool:
        from loopml.models.registry import get_model_version

        version = get_model_version(slot.uri).version
        if version == slot.model.version:
            return False
        fresh = load_served(slot.uri)
        if fresh.columns != slot.model.columns and role == "champion":
            log.warning(
                "%s moved to version %s whose columns differ; serving it anyway",
                slot.uri, fresh.version,
            )
        old = slot.swap(fresh)
        log.info("%s: now serving version %s (was %s)", slot.uri, fresh.version, old.version)
        self.metrics.reloads.labels("ok").inc()
        self._show_versions()
        return True

    def _show_versions(self) -> None:
        for role, slot in self.slots.items():
            self.metrics.model_version.labels(role).set(slot.model.version)


def _build_explainer(served: ServedModel) -> Any:
    """An explainer over the registered input example (the background sample)."""
    from loopml.models.registry import get_model_version, load_input_example
    from loopml.serving.explain import Explainer

    example = load_input_example(get_model_version(f"{served.name}/{served.version}"))
    background = pd.DataFrame(example)[served.columns]
    return Explainer(served.loaded.model, background=background, features=served.columns)


def _challenger_uri(name: str, challenger: str) -> str:
    """``challenger`` is an alias of the served model's name, or a full model URI."""
    if "@" in challenger or "/" in challenger:
        return challenger
    if not challenger.strip():
        raise InvalidInput("challenger: give an alias (e.g. 'challenger') or a model URI")
    return f"{name}@{challenger}"
