"""Cron schedules for pipelines, kept in the store, and the scheduler that runs them.

``add_schedule("nightly", "0 3 * * *", "train.py:training", {"C": 0.5})`` stores it;
``Scheduler().run_forever()`` (``loopml scheduler``) runs due jobs. Each due run is claimed
with a compare-and-set on ``next_run_time``, so two schedulers never start it twice, and a
schedule never runs twice at once. Runs missed while no scheduler was up run once at start
(``catch_up=True``, the default) or are skipped (``catch_up=False``).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipelines.targets import check_target, load_target
from loopml.store import validation
from loopml.store.entities import Schedule
from loopml.tracking import state

log = logging.getLogger("loopml.scheduler")


def next_after(cron: str, after_ms: int) -> int:
    """The first time strictly after ``after_ms`` that ``cron`` fires (UTC), in ms."""
    from croniter import croniter

    start = datetime.fromtimestamp(after_ms / 1000, tz=UTC)
    return int(croniter(cron, start).get_next(datetime).timestamp() * 1000)


def check_cron(cron: object) -> str:
    from croniter import croniter

    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise InvalidInput(
            f"cron expression {cron!r} does not parse; it has 5 fields: minute hour "
            "day-of-month month day-of-week, e.g. '0 3 * * *' (every day at 03:00 UTC)."
        )
    return cron


def add_schedule(
    name: str,
    cron: str,
    target: str,
    params: Mapping[str, Any] | None = None,
    *,
    catch_up: bool = True,
    now_ms: int | None = None,
) -> Schedule:
    """Store a schedule; the first run is the next time ``cron`` fires."""
    validation.validate_key("schedule", name)
    check_cron(cron)
    check_target(target)
    now = _now_ms() if now_ms is None else now_ms
    schedule = Schedule(
        name=name,
        cron=cron,
        target=target,
        params=dict(params or {}),
        catch_up=catch_up,
        created_time=now,
        next_run_time=next_after(cron, now),
    )
    return state.get_store().add_schedule(schedule)


def list_schedules() -> list[Schedule]:
    return state.get_store().list_schedules()


def remove_schedule(name: str) -> None:
    state.get_store().remove_schedule(name)


@dataclass(frozen=True)
class ScheduledRun:
    schedule: str
    started: int
    status: str  # FINISHED | FAILED | SKIPPED (missed while down, catch_up=False)
    run_id: str | None = None
    error: str | None = None


def run_target(target: str, params: Mapping[str, Any]) -> Any:
    """Run the pipeline a schedule names; returns its PipelineRun."""
    return load_target(target).run(**params)


class Scheduler:
    """Runs due schedules, one at a time per schedule, each as a tracked pipeline run."""

    def __init__(
        self,
        *,
        runner: Callable[[str, Mapping[str, Any]], Any] = run_target,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.runner = runner
        self.clock = clock or _now_ms
        self.started_at = self.clock()
        self._threads: list[threading.Thread] = []

    def run_pending(self, *, wait: bool = True) -> list[ScheduledRun]:
        """Claim and run every schedule that is due now."""
        now = self.clock()
        results: list[ScheduledRun] = []
        for schedule in state.get_store().list_schedules():
            if schedule.running or schedule.next_run_time > now:
                continue
            following = next_after(schedule.cron, now)
            if not state.get_store().claim_schedule(
                schedule.name, schedule.next_run_time, following
            ):
                continue  # another scheduler took it
            missed_while_down = schedule.next_run_time < self.started_at
            if missed_while_down and not schedule.catch_up:
                results.append(self._finish(schedule.name, now, "SKIPPED", None, None))
                continue
            thread = threading.Thread(
                target=lambda s=schedule: results.append(self._execute(s, now)),
                name=f"loopml-schedule-{schedule.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        if wait:
            self.wait()
        return results

    def wait(self) -> None:
        while self._threads:
            self._threads.pop().join()

    def run_forever(self, poll_s: float = 10.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.run_pending(wait=False)
            except Exception:  # noqa: BLE001 - a store hiccup must not stop the scheduler
                log.exception("scheduler pass failed; retrying")
            stop.wait(poll_s)
        self.wait()

    def _execute(self, schedule: Schedule, started: int) -> ScheduledRun:
        try:
            result = self.runner(schedule.target, schedule.params)
        except Exception as exc:  # noqa: BLE001 - recorded on the schedule, then logged
            error = "".join(traceback.format_exception(exc))
            run_id = getattr(getattr(exc, "run", None), "run_id", None)
            log.error("schedule %s failed: %s", schedule.name, exc)
            return self._finish(schedule.name, started, "FAILED", run_id, error[-4000:])
        return self._finish(
            schedule.name, started, "FINISHED", getattr(result, "run_id", None), None
        )

    def _finish(
        self, name: str, started: int, status: str, run_id: str | None, error: str | None
    ) -> ScheduledRun:
        state.get_store().finish_schedule_run(
            name, started=started, status=status, run_id=run_id, error=error
        )
        return ScheduledRun(name, started, status, run_id, error)


def _now_ms() -> int:
    return int(time.time() * 1000)
