"""Cron schedules: stored, claimed once, one at a time, missed runs caught up (or not)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import loopml as ml
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.pipelines.schedules import Scheduler, add_schedule, list_schedules, remove_schedule
from loopml.pipelines.targets import load_target
from loopml.tracking import state

PIPELINE_FILE = '''
import loopml as ml

class Pipeline:
    """Stands in for an @ml.pipeline object: anything with run(**params) -> a run."""

    def run(self, **params):
        with ml.start_run(experiment="scheduled", name="nightly") as run:
            run.log_params(params)
            if params.get("fail"):
                raise RuntimeError("the data source is down")
        return run

training = Pipeline()
not_a_pipeline = 3
'''


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class Clock:
    def __init__(self, now: str) -> None:
        self.now = ms(now)

    def __call__(self) -> int:
        return self.now


@pytest.fixture(autouse=True)
def store(sqlite_url: str, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    ml.configure(store=sqlite_url, artifacts=str(tmp_path / "artifacts"))
    (tmp_path / "train.py").write_text(PIPELINE_FILE)
    yield tmp_path
    for run in list(state.active_runs):
        with contextlib.suppress(Exception):
            run.end()
    ml.configure()
    with state._lock:
        state._close_store()


def test_a_due_schedule_runs_once_as_a_tracked_run():
    add_schedule(
        "nightly", "0 3 * * *", "train.py:training", {"C": 0.5}, now_ms=ms("2026-11-27T01:00:00")
    )
    [schedule] = list_schedules()
    assert schedule.next_run_time == ms("2026-11-27T03:00:00")
    scheduler = Scheduler(clock=Clock("2026-11-27T02:59:00"))
    assert scheduler.run_pending() == []  # not due yet
    scheduler.clock = Clock("2026-11-27T03:00:30")
    [result] = scheduler.run_pending()
    assert result.status == "FINISHED"
    assert ml.get_run(result.run_id).params == {"C": "0.5"}
    assert scheduler.run_pending() == []  # claimed: not run again in the same minute
    [schedule] = list_schedules()
    assert schedule.next_run_time == ms("2026-11-28T03:00:00")
    assert (schedule.last_status, schedule.last_run_id) == ("FINISHED", result.run_id)


def test_runs_missed_while_down_run_once_at_start():
    add_schedule("hourly", "0 * * * *", "train.py:training", now_ms=ms("2026-11-27T00:30:00"))
    scheduler = Scheduler(clock=Clock("2026-11-27T05:10:00"))  # down for 4 firings
    results = scheduler.run_pending()
    assert [r.status for r in results] == ["FINISHED"]
    assert len(ml.search_runs("scheduled")) == 1
    assert list_schedules()[0].next_run_time == ms("2026-11-27T06:00:00")


def test_missed_runs_are_skipped_without_catch_up():
    add_schedule(
        "hourly", "0 * * * *", "train.py:training", catch_up=False, now_ms=ms("2026-11-27T00:30:00")
    )
    [result] = Scheduler(clock=Clock("2026-11-27T05:10:00")).run_pending()
    assert result.status == "SKIPPED"
    with pytest.raises(NotFound):
        ml.search_runs("scheduled")


def test_a_failing_pipeline_is_recorded_and_the_schedule_goes_on():
    add_schedule(
        "flaky",
        "*/5 * * * *",
        "train.py:training",
        {"fail": True},
        now_ms=ms("2026-11-27T00:00:00"),
    )
    [result] = Scheduler(clock=Clock("2026-11-27T00:05:00")).run_pending()
    assert result.status == "FAILED" and "the data source is down" in result.error
    [schedule] = list_schedules()
    assert schedule.last_status == "FAILED" and not schedule.running
    assert schedule.next_run_time == ms("2026-11-27T00:10:00")


def test_two_schedulers_never_run_the_same_due_run_twice():
    add_schedule("nightly", "0 3 * * *", "train.py:training", now_ms=ms("2026-11-27T01:00:00"))
    started = threading.Barrier(2)
    counted: list[int] = []

    def slow_runner(target, params):
        counted.append(1)
        time.sleep(0.3)

    def one_scheduler():
        scheduler = Scheduler(runner=slow_runner, clock=Clock("2026-11-27T03:00:10"))
        started.wait()
        scheduler.run_pending()

    threads = [threading.Thread(target=one_scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted == [1]


@pytest.mark.parametrize(
    ("cron", "target", "error", "message"),
    [
        ("0 3 * *", "train.py:training", InvalidInput, "does not parse"),
        ("61 * * * *", "train.py:training", InvalidInput, "does not parse"),
        ("0 3 * * *", "train.py", InvalidInput, "file.py:pipeline_name"),
        ("0 3 * * *", "missing.py:training", NotFound, "does not exist"),
        ("0 3 * * *", "train.py:not valid", InvalidInput, "not a Python name"),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_stored(cron, target, error, message):
    with pytest.raises(error, match=message):
        add_schedule("bad", cron, target)
    assert list_schedules() == []


def test_duplicate_and_unknown_schedules():
    add_schedule("nightly", "0 3 * * *", "train.py:training")
    with pytest.raises(Conflict, match="already exists"):
        add_schedule("nightly", "0 4 * * *", "train.py:training")
    remove_schedule("nightly")
    with pytest.raises(NotFound, match="'nightly'"):
        remove_schedule("nightly")


def test_targets_that_are_not_pipelines_are_named():
    with pytest.raises(InvalidInput, match="not a pipeline"):
        load_target("train.py:not_a_pipeline")
    with pytest.raises(NotFound, match="no 'nope'"):
        load_target("train.py:nope")
