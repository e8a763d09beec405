"""Metrics: buffered writes, history, odd values, the background flush."""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np
import pandas as pd
import pytest

import loopml as ml
from loopml.errors import InvalidInput, NotFound
from loopml.tracking import state


def test_20000_points_come_back_complete_in_step_order(any_store) -> None:
    rng = np.random.default_rng(0)
    steps = rng.permutation(20_000)  # logged out of order
    with ml.start_run() as run:
        for step in steps:
            run.log_metric("loss", 1.0 / (int(step) + 1) + 0.1, step=int(step))
    history = ml.get_metric_history(run.run_id, "loss")
    assert list(history.columns) == ["step", "timestamp", "value"]
    assert len(history) == 20_000
    assert history["step"].tolist() == list(range(20_000))
    expected = 1.0 / (np.arange(20_000) + 1) + 0.1
    assert np.array_equal(history["value"].to_numpy(), expected)  # bit-exact
    latest = ml.get_run(run.run_id).metrics["loss"]
    assert latest.step == 19_999 and latest.value == expected[-1]


def test_history_while_the_run_is_active_includes_unflushed_points() -> None:
    with ml.start_run() as run:
        for step in range(50):
            run.log_metric("acc", step / 100, step=step)
        history = ml.get_metric_history(run.run_id, "acc")
        assert history["value"].tolist() == [s / 100 for s in range(50)]
        run.log_metric("acc", 0.9, step=50)
        assert len(ml.get_metric_history(run.run_id, "acc")) == 51


def test_points_logged_in_several_flushes_merge(any_store) -> None:
    with ml.start_run() as run:
        for part in range(3):
            for step in range(part, 30, 3):  # interleaved steps across flushes
                run.log_metric("x", float(step * 2), step=step)
            ml.flush()
        assert ml.get_metric_history(run.run_id, "x")["step"].tolist() == list(range(30))
    history = ml.get_metric_history(run.run_id, "x")  # after the end (chunks merged)
    assert history["step"].tolist() == list(range(30))
    assert history["value"].tolist() == [float(s * 2) for s in range(30)]


def test_nan_and_infinities_are_stored_as_such(any_store) -> None:
    values = [float("nan"), float("inf"), float("-inf"), 1.5]
    with ml.start_run() as run:
        for step, value in enumerate(values):
            run.log_metric("odd", value, step=step)
        run.log_metrics({"last_nan": 1.0}, step=0)
        run.log_metrics({"last_nan": float("nan"), "last_inf": float("inf")}, step=1)
        run.log_metric("last_ninf", float("-inf"))
    history = ml.get_metric_history(run.run_id, "odd")["value"].tolist()
    assert math.isnan(history[0])
    assert history[1:] == [math.inf, -math.inf, 1.5]
    latest = ml.get_run(run.run_id).metrics
    assert math.isnan(latest["last_nan"].value) and latest["last_nan"].step == 1
    assert latest["last_inf"].value == math.inf
    assert latest["last_ninf"].value == -math.inf
    assert latest["odd"].value == 1.5


def test_latest_value_is_the_one_at_the_highest_step() -> None:
    with ml.start_run() as run:
        run.log_metric("m", 1.0, step=5)
        run.log_metric("m", 9.0, step=2)  # an older step logged later
    latest = ml.get_run(run.run_id).metrics["m"]
    assert (latest.value, latest.step) == (1.0, 5)


@pytest.mark.parametrize("value", ["0.5", None, True, [1.0], {"v": 1}, 1 + 2j])
def test_non_numeric_metric_values_are_refused_naming_the_key(value) -> None:
    with ml.start_run() as run:
        with pytest.raises(InvalidInput) as caught:
            run.log_metric("val_auc", value)
        assert "val_auc" in str(caught.value)
        with pytest.raises(InvalidInput, match="val_auc"):
            run.log_metrics({"fine": 1.0, "val_auc": value})
    assert ml.get_run(run.run_id).metrics == {}  # nothing of the batch was written


def test_numpy_scalars_are_accepted() -> None:
    with ml.start_run() as run:
        run.log_metric("f32", np.float32(0.5), step=np.int64(3))
        run.log_metrics({"i64": np.int64(7), "f64": np.float64(0.25), "zero_d": np.array(2.5)})
    metrics = ml.get_run(run.run_id).metrics
    assert metrics["f32"].value == 0.5 and metrics["f32"].step == 3
    assert metrics["i64"].value == 7.0
    assert metrics["f64"].value == 0.25
    assert metrics["zero_d"].value == 2.5


@pytest.mark.parametrize("step", [1.5, "3", True, None])
def test_step_must_be_an_integer(step) -> None:
    with ml.start_run() as run:
        with pytest.raises(InvalidInput, match="step"):
            run.log_metric("m", 1.0, step=step)
        with pytest.raises(InvalidInput, match="step"):
            run.log_metrics({"m": 1.0}, step=step)
    assert ml.get_run(run.run_id).metrics == {}


def test_one_unstorable_point_does_not_lose_the_others() -> None:
    with ml.start_run() as run:
        run.log_metric("good", 1.0, step=0)
        with contextlib.suppress(InvalidInput):  # refused once validation checks the range
            run.log_metric("huge_step", 1.0, step=2**70)
        run.log_metric("good", 2.0, step=1)
        ml.flush()
        run.log_metric("good", 3.0, step=2)
    assert ml.get_metric_history(run.run_id, "good")["value"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 2**70])
def test_step_outside_int64_is_refused_at_the_call(step) -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="step"):
        run.log_metric("m", 1.0, step=step)


def test_metric_value_too_large_for_a_float_is_invalid_input() -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="'big'"):
        run.log_metric("big", 10**400)


def test_bad_metric_key_is_refused() -> None:
    with ml.start_run() as run:
        with pytest.raises(InvalidInput, match="illegal character"):
            run.log_metric("loss{train}", 1.0)
        with pytest.raises(InvalidInput, match="250"):
            run.log_metrics({"m" * 251: 1.0})
    assert ml.get_run(run.run_id).metrics == {}


def test_explicit_timestamp_is_kept() -> None:
    stamp = 1_600_000_000_123
    with ml.start_run() as run:
        run.log_metric("m", 1.0, step=0, timestamp=stamp)
        run.log_metrics({"n": 2.0}, step=0, timestamp=stamp + 1)
        before = int(time.time() * 1000)
        run.log_metric("now", 3.0)
        after = int(time.time() * 1000)
    history = ml.get_metric_history(run.run_id, "m")
    assert history["timestamp"].iloc[0] == pd.Timestamp(stamp, unit="ms", tz="UTC")
    store = state.get_store()
    assert store.get_metric_history(run.run_id, "m").timestamps.tolist() == [stamp]
    assert store.get_metric_history(run.run_id, "n").timestamps.tolist() == [stamp + 1]
    assert before <= ml.get_run(run.run_id).metrics["now"].timestamp <= after


def test_unknown_metric_key_is_not_found_and_lists_the_known_ones() -> None:
    with ml.start_run() as run:
        run.log_metric("loss", 1.0)
    with pytest.raises(NotFound, match="'acc'.*loss"):
        ml.get_metric_history(run.run_id, "acc")


def test_writer_flushes_by_itself_within_about_two_seconds() -> None:
    with ml.start_run() as run:
        store = state.get_store()
        run.log_metric("heartbeat", 42.0, step=1)
        started = time.monotonic()
        seen = None
        while time.monotonic() - started < 3.0:
            try:
                seen = store.get_metric_history(run.run_id, "heartbeat")  # no flush here
                break
            except NotFound:
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(f"background flush after {elapsed:.2f} s")
        assert seen is not None, "the writer did not flush within 3 s"
        assert seen.values.tolist() == [42.0]


def test_metrics_reach_the_store_at_run_end_without_flush() -> None:
    with ml.start_run() as run:
        for step in range(500):
            run.log_metric("m", float(step), step=step)
    # read the store directly: no flush on this path
    assert len(state.get_store().get_metric_history(run.run_id, "m")) == 500


def test_100000_step_history_reads_back_quickly() -> None:
    n = 100_000
    with ml.start_run() as run:
        for step in range(n):
            run.log_metric("long", step * 0.001, step=step)
    ml.flush()
    started = time.perf_counter()
    history = ml.get_metric_history(run.run_id, "long")
    elapsed = time.perf_counter() - started
    print(f"read a {n}-step history in {elapsed * 1000:.1f} ms")
    assert len(history) == n
    assert history["step"].iloc[-1] == n - 1
    assert np.array_equal(history["value"].to_numpy(), np.arange(n) * 0.001)
