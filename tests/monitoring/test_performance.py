"""Realized performance per window: sklearn's numbers on the labelled rows, intervals that
hold them, delayed labels that update only their own window, and objectives judged with
the interval in mind."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from loopml.errors import InvalidInput
from loopml.monitoring.performance import (
    compare_to_objectives,
    objectives_from_spec,
    parse_window,
    windowed_metrics,
)
from loopml.project import Objectives, parse_project

HOUR = 3_600_000
T0 = 472_222 * HOUR  # 2023-11-14 22:00 UTC, on an hour boundary
CLASSIFICATION = ["accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"]


@pytest.fixture
def binary_log() -> pd.DataFrame:
    """Six hours of predictions, 30% of them still without a label."""
    rng = np.random.default_rng(0)
    n = 3000
    proba = rng.random(n)
    label = np.where(rng.random(n) < proba, "yes", "no").astype(object)
    label[rng.random(n) < 0.3] = None
    return pd.DataFrame(
        {
            "time": T0 + np.sort(rng.integers(0, 6 * HOUR, n)),
            "label": label,
            "prediction": np.where(proba > 0.5, "yes", "no"),
            "proba": proba,
        }
    )


@pytest.fixture
def multiclass_log() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 1200
    logits = rng.normal(0, 1.5, (n, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] >= np.cumsum(proba, axis=1)[:, :-1]).sum(axis=1)
    return pd.DataFrame(
        {
            "time": T0 + np.arange(n) * 10_000,
            "label": np.array(["cat", "cow", "dog"])[codes],
            "prediction": np.array(["cat", "cow", "dog"])[proba.argmax(axis=1)],
            "proba": list(proba),
        }
    )


@pytest.fixture
def regression_log() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    n = 800
    truth = rng.normal(10, 3, n)
    return pd.DataFrame(
        {
            "time": T0 + np.arange(n) * 30_000,
            "label": truth,
            "prediction": truth + rng.normal(0, 1, n),
        }
    )


def labelled_hours(frame: pd.DataFrame) -> list[pd.DataFrame]:
    hour = (frame["time"] // HOUR) * HOUR
    return [part[part["label"].notna()] for _, part in frame.groupby(hour)]


def test_binary_metrics_are_sklearns_on_each_windows_labelled_rows(
    binary_log: pd.DataFrame,
) -> None:
    result = windowed_metrics(
        binary_log, task="binary", metrics=CLASSIFICATION, window="1h", proba_col="proba"
    )
    assert len(result) == 6
    assert list(result["window_start"]) == [T0 + i * HOUR for i in range(6)]
    assert list(result["window_end"]) == [T0 + (i + 1) * HOUR for i in range(6)]
    for row, part in zip(result.to_dict("records"), labelled_hours(binary_log), strict=True):
        y, pred, p = part["label"], part["prediction"], part["proba"]
        assert row["n_labels"] == len(part)
        assert row["label_coverage"] == len(part) / row["n_predictions"]
        expected = {
            "accuracy": skm.accuracy_score(y, pred),
            "f1": skm.f1_score(y, pred, pos_label="yes"),
            "precision": skm.precision_score(y, pred, pos_label="yes"),
            "recall": skm.recall_score(y, pred, pos_label="yes"),
            "roc_auc": skm.roc_auc_score(y == "yes", p),
            "log_loss": skm.log_loss(y, p, labels=["no", "yes"]),
        }
        for metric, value in expected.items():
            assert row[metric] == pytest.approx(value, rel=1e-12, abs=1e-12), metric
            assert row[f"{metric}_lower"] <= row[metric] <= row[f"{metric}_upper"], metric
    assert result["n_predictions"].sum() == len(binary_log)


def test_multiclass_metrics_are_sklearns_macro_and_ovr(multiclass_log: pd.DataFrame) -> None:
    metrics = CLASSIFICATION
    result = windowed_metrics(
        multiclass_log, task="multiclass", metrics=metrics, window="1h", proba_col="proba"
    )
    for row, part in zip(result.to_dict("records"), labelled_hours(multiclass_log), strict=True):
        y, pred, proba = part["label"], part["prediction"], np.vstack(part["proba"])
        labels = ["cat", "cow", "dog"]
        assert row["accuracy"] == skm.accuracy_score(y, pred)
        assert row["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-12)
        assert row["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=1e-12)
        auc = skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels)
        assert row["roc_auc"] == pytest.approx(auc, abs=1e-12)
        assert row["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=labels), abs=1e-12)
        assert row["f1_lower"] < row["f1"] < row["f1_upper"]


def test_regression_metrics_are_sklearns(regression_log: pd.DataFrame) -> None:
    result = windowed_metrics(
        regression_log, task="regression", metrics=["rmse", "mae", "r2"], window="1h"
    )
    for row, part in zip(result.to_dict("records"), labelled_hours(regression_log), strict=True):
        y, pred = part["label"], part["prediction"]
        assert row["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred), abs=1e-12)
        assert row["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-12)
        assert row["r2"] == pytest.approx(skm.r2_score(y, pred), abs=1e-12)
        for metric in ("rmse", "mae", "r2"):
            assert row[f"{metric}_lower"] < row[metric] < row[f"{metric}_upper"]
    assert result["rmse"].between(0.8, 1.2).all()


def test_accuracy_interval_is_wilsons() -> None:
    frame = pd.DataFrame(
        {"time": np.arange(100), "label": [1] * 100, "prediction": [1] * 80 + [0] * 20}
    )
    row = windowed_metrics(frame, task="binary", metrics=["accuracy"], window=100).iloc[0]
    assert row["accuracy"] == 0.8
    assert (row["accuracy_lower"], row["accuracy_upper"]) == pytest.approx(
        (0.71112, 0.86666), abs=1e-4
    )


def test_intervals_are_reproducible_and_narrow_with_more_labels(binary_log: pd.DataFrame) -> None:
    args = {"task": "binary", "metrics": ["f1", "roc_auc"], "proba_col": "proba"}
    one = windowed_metrics(binary_log, window="1h", **args)
    pd.testing.assert_frame_equal(one, windowed_metrics(binary_log, window="1h", **args))
    other_seed = windowed_metrics(binary_log, window="1h", seed=1, **args)
    assert not other_seed["f1_lower"].equals(one["f1_lower"])
    whole = windowed_metrics(binary_log, window=len(binary_log), **args).iloc[0]
    assert whole["f1_upper"] - whole["f1_lower"] < (one["f1_upper"] - one["f1_lower"]).min()


def test_count_windows_hold_that_many_predictions_in_time_order(binary_log: pd.DataFrame) -> None:
    shuffled = binary_log.sample(frac=1.0, random_state=0)
    result = windowed_metrics(shuffled, task="binary", metrics=["accuracy"], window=700)
    assert list(result["n_predictions"]) == [700, 700, 700, 700, 200]
    times = binary_log["time"].to_numpy()
    assert list(result["window_start"]) == [times[i] for i in (0, 700, 1400, 2100, 2800)]
    assert list(result["window_end"]) == [times[i] for i in (699, 1399, 2099, 2799, 2999)]
    as_text = windowed_metrics(shuffled, task="binary", metrics=["accuracy"], window="700 rows")
    pd.testing.assert_frame_equal(result, as_text)


@pytest.mark.parametrize(("window", "count"), [("30m", 12), ("1d", 2), ("600s", 36), ("2h", 3)])
def test_duration_windows(binary_log: pd.DataFrame, window: str, count: int) -> None:
    """Windows are aligned to the epoch: six hours from 22:00 UTC span two days."""
    result = windowed_metrics(binary_log, task="binary", metrics=["accuracy"], window=window)
    assert len(result) == count
    assert result["n_predictions"].sum() == len(binary_log)


def test_delayed_labels_update_their_window_and_leave_earlier_ones_unchanged(
    binary_log: pd.DataFrame,
) -> None:
    args = {"task": "binary", "metrics": CLASSIFICATION, "window": "1h", "proba_col": "proba"}
    before = windowed_metrics(binary_log, **args)
    later = binary_log.copy()
    last_hour = (later["time"] >= T0 + 5 * HOUR) & later["label"].isna()
    truth = np.where(np.random.default_rng(9).random(len(later)) < later["proba"], "yes", "no")
    later.loc[last_hour, "label"] = truth[last_hour.to_numpy()]
    after = windowed_metrics(later, **args)
    pd.testing.assert_frame_equal(before.iloc[:5], after.iloc[:5])
    assert after["n_labels"].iloc[5] == after["n_predictions"].iloc[5] > before["n_labels"].iloc[5]
    assert after["label_coverage"].iloc[5] == 1.0
    assert after["log_loss"].iloc[5] != before["log_loss"].iloc[5]
    assert after["roc_auc"].iloc[5] != before["roc_auc"].iloc[5]


def test_a_window_without_labels_reports_nan_with_zero_labels(binary_log: pd.DataFrame) -> None:
    frame = binary_log.copy()
    frame.loc[frame["time"] < T0 + HOUR, "label"] = None
    result = windowed_metrics(
        frame, task="binary", metrics=CLASSIFICATION, window="1h", proba_col="proba"
    )
    first = result.iloc[0]
    assert first["n_labels"] == 0 and first["label_coverage"] == 0.0
    assert first["n_predictions"] > 0
    for metric in CLASSIFICATION:
        assert all(math.isnan(first[f"{metric}{s}"]) for s in ("", "_lower", "_upper"))
    assert not math.isnan(result.iloc[1]["accuracy"])


def test_roc_auc_with_one_class_in_a_window_is_nan_without_exception_or_warning() -> None:
    frame = pd.DataFrame(
        {
            "time": [0, 1, 2, HOUR, HOUR + 1, HOUR + 2],
            "label": [1, 1, 1, 0, 1, 0],
            "prediction": [1, 0, 1, 0, 1, 1],
            "proba": [0.9, 0.4, 0.8, 0.2, 0.7, 0.6],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = windowed_metrics(
            frame,
            task="binary",
            metrics=["roc_auc", "f1", "log_loss"],
            window="1h",
            proba_col="proba",
        )
    assert math.isnan(result["roc_auc"].iloc[0]) and math.isnan(result["roc_auc_lower"].iloc[0])
    assert result["roc_auc"].iloc[1] == 1.0
    assert result["f1"].iloc[0] == pytest.approx(skm.f1_score([1, 1, 1], [1, 0, 1]))


def test_numeric_labels_with_missing_values_match_integer_predictions() -> None:
    frame = pd.DataFrame(
        {"time": range(6), "label": [1, 0, None, 1, 0, None], "prediction": [1, 1, 0, 1, 0, 1]}
    )
    row = windowed_metrics(frame, task="binary", metrics=["precision", "recall"], window=6).iloc[0]
    assert row["n_labels"] == 4
    assert (row["precision"], row["recall"]) == (2 / 3, 1.0)


def test_an_empty_frame_gives_an_empty_result() -> None:
    for frame in (pd.DataFrame(), pd.DataFrame(columns=["time", "label", "prediction"])):
        result = windowed_metrics(frame, task="binary", metrics=["accuracy", "f1"], window="1h")
        assert result.empty
        assert list(result.columns)[:5] == [
            "window_start",
            "window_end",
            "n_predictions",
            "n_labels",
            "label_coverage",
        ]
        assert "f1_upper" in result.columns


def test_missing_columns_are_named(binary_log: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match=r"\['ts', 'y'\]"):
        windowed_metrics(
            binary_log,
            task="binary",
            metrics=["accuracy"],
            window="1h",
            time_col="ts",
            label_col="y",
        )
    with pytest.raises(InvalidInput, match="score"):
        windowed_metrics(
            binary_log, task="binary", metrics=["roc_auc"], window="1h", proba_col="score"
        )


def test_unknown_metrics_list_the_allowed_ones(binary_log: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="mcc.*allowed.*'accuracy'.*'log_loss'"):
        windowed_metrics(binary_log, task="binary", metrics=["accuracy", "mcc"], window="1h")
    with pytest.raises(InvalidInput, match="'rmse', 'mae', 'r2'"):
        windowed_metrics(binary_log, task="regression", metrics=["accuracy"], window="1h")
    with pytest.raises(InvalidInput, match="proba_col"):
        windowed_metrics(binary_log, task="binary", metrics=["roc_auc"], window="1h")
    with pytest.raises(InvalidInput, match="task"):
        windowed_metrics(binary_log, task="ranking", metrics=["accuracy"], window="1h")


@pytest.mark.parametrize("window", ["1 hour", "0h", "-5m", "h", "", "1.5h", "1w", 0, -3, True, 1.5])
def test_bad_windows_are_refused(binary_log: pd.DataFrame, window: object) -> None:
    with pytest.raises(InvalidInput, match="not a window"):
        windowed_metrics(binary_log, task="binary", metrics=["accuracy"], window=window)  # type: ignore[arg-type]


def test_parse_window() -> None:
    assert parse_window("1h") == ("time", HOUR)
    assert parse_window("30m") == ("time", 1_800_000)
    assert parse_window("600s") == ("time", 600_000)
    assert parse_window("1d") == ("time", 24 * HOUR)
    assert parse_window(500) == parse_window("500 rows") == ("count", 500)


def test_other_bad_input_is_refused_with_what_to_do(binary_log: pd.DataFrame) -> None:
    three = binary_log.assign(prediction="maybe")
    with pytest.raises(InvalidInput, match="2 classes"):
        windowed_metrics(three, task="binary", metrics=["accuracy"], window="1h")
    with pytest.raises(InvalidInput, match="epoch milliseconds"):
        windowed_metrics(
            binary_log.assign(time="noon"), task="binary", metrics=["accuracy"], window="1h"
        )
    with pytest.raises(InvalidInput, match="outside the classes"):
        windowed_metrics(
            binary_log, task="binary", metrics=["f1"], window="1h", classes=["no", "si"]
        )
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        windowed_metrics(
            binary_log.assign(proba=binary_log["proba"] * 2),
            task="binary",
            metrics=["log_loss"],
            window="1h",
            proba_col="proba",
        )


def test_objectives_are_met_missed_uncertain_or_without_data() -> None:
    results = pd.DataFrame(
        {
            "window_start": [0, 1, 2, 3],
            "window_end": [1, 2, 3, 4],
            "n_labels": [100, 100, 100, 0],
            "accuracy": [0.95, 0.80, 0.91, np.nan],
            "accuracy_lower": [0.92, 0.75, 0.85, np.nan],
            "accuracy_upper": [0.97, 0.85, 0.95, np.nan],
            "rmse": [2.0, 3.5, 2.9, np.nan],
            "rmse_lower": [1.5, 3.1, 2.5, np.nan],
            "rmse_upper": [2.5, 3.9, 3.2, np.nan],
        }
    )
    verdicts = compare_to_objectives(results, {"accuracy": (">=", 0.9), "rmse": ("<=", 3.0)})
    status = {(v["window_start"], v["metric"]): v["status"] for v in verdicts}
    assert status == {
        (0, "accuracy"): "met",
        (0, "rmse"): "met",
        (1, "accuracy"): "missed",
        (1, "rmse"): "missed",
        (2, "accuracy"): "uncertain",
        (2, "rmse"): "uncertain",
        (3, "accuracy"): "no_data",
        (3, "rmse"): "no_data",
    }
    first = verdicts[0]
    assert first["value"] == 0.95 and (first["lower"], first["upper"]) == (0.92, 0.97)
    assert (first["op"], first["threshold"], first["n_labels"]) == (">=", 0.9, 100)


def test_objectives_in_the_loopml_yaml_form_are_accepted() -> None:
    spec = parse_project(
        "name: churn\ntask: binary\ntarget: churned\n"
        "objectives:\n  accuracy: '>= 0.9'\n  log_loss: 0.4\n  latency_p95_ms: 50\n"
    )
    assert objectives_from_spec(spec) == {
        "accuracy": (">=", 0.9),
        "log_loss": ("<=", 0.4),
        "latency_p95_ms": ("<=", 50.0),
    }
    assert objectives_from_spec(spec.objectives) == objectives_from_spec(spec)
    assert objectives_from_spec(Objectives.model_validate({"rmse": 3})) == {"rmse": ("<=", 3.0)}
    assert objectives_from_spec(spec.objective_list()) == objectives_from_spec(spec)
    assert objectives_from_spec({"accuracy": ">= 0.9", "rmse": ("<=", 3)}) == {
        "accuracy": (">=", 0.9),
        "rmse": ("<=", 3.0),
    }
    with pytest.raises(InvalidInput, match="accuracy"):
        objectives_from_spec({"accuracy": "about 0.9"})
    with pytest.raises(InvalidInput, match="op"):
        objectives_from_spec({"accuracy": ("~", 0.9)})


def test_compare_to_a_project_spec(binary_log: pd.DataFrame) -> None:
    spec = parse_project(
        "name: churn\ntask: binary\ntarget: churned\n"
        "objectives:\n  accuracy: '>= 0.5'\n  latency_p95_ms: 50\n"
    )
    results = windowed_metrics(binary_log, task="binary", metrics=["accuracy"], window="1h")
    with pytest.raises(InvalidInput, match="latency_p95_ms.*skip_unmeasured"):
        compare_to_objectives(results, spec)
    verdicts = compare_to_objectives(results, spec, skip_unmeasured=True)
    assert [v["metric"] for v in verdicts] == ["accuracy"] * 6
    assert {v["status"] for v in verdicts} == {"met"}


def test_before_any_label_arrives_every_window_is_nan_whatever_was_predicted() -> None:
    frame = pd.DataFrame({"time": [0, HOUR], "label": [None, None], "prediction": ["no", "no"]})
    result = windowed_metrics(frame, task="binary", metrics=["f1"], window="1h")
    assert list(result["n_labels"]) == [0, 0] and result["f1"].isna().all()
    labelled = frame.assign(label=["no", "no"])
    with pytest.raises(InvalidInput, match="single class"):
        windowed_metrics(labelled, task="binary", metrics=["f1"], window="1h")
    named = windowed_metrics(
        labelled, task="binary", metrics=["f1"], window="1h", classes=["no", "yes"]
    )
    assert list(named["f1"]) == [0.0, 0.0]
