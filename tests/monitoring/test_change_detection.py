"""Change detectors on the error stream: a jump of the error rate from 10% to 40% is flagged
within 300 samples, a stationary stream raises no alarm, and ADWIN's window is exactly the
latest samples it claims to hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopml.errors import InvalidInput
from loopml.monitoring.change_detection import ADWIN, PageHinkley, detect_changes

METHODS = ["page_hinkley", "adwin"]


@pytest.fixture(params=range(5), ids=lambda seed: f"seed{seed}")
def jump(request: pytest.FixtureRequest) -> np.ndarray:
    """0/1 errors: p = 0.1 for 2000 samples, then p = 0.4 for 1000."""
    rng = np.random.default_rng(request.param)
    return np.r_[rng.random(2000) < 0.1, rng.random(1000) < 0.4].astype(float)


@pytest.fixture
def stationary() -> np.ndarray:
    return (np.random.default_rng(2024).random(5000) < 0.1).astype(float)


@pytest.mark.parametrize("method", METHODS)
def test_a_jump_in_the_error_rate_is_flagged_within_300_samples(
    jump: np.ndarray, method: str
) -> None:
    flagged = detect_changes(jump, method)
    assert flagged, "no change detected"
    assert 2000 <= flagged[0] <= 2300, flagged


@pytest.mark.parametrize("method", METHODS)
def test_a_stationary_stream_raises_no_alarm(stationary: np.ndarray, method: str) -> None:
    assert detect_changes(stationary, method) == []


def test_adwin_stays_quiet_on_a_stationary_continuous_stream() -> None:
    losses = np.random.default_rng(11).gamma(2.0, 1.0, 5000)
    assert detect_changes(losses, "adwin") == []


def test_adwin_mean_and_variance_are_those_of_the_latest_width_samples() -> None:
    rng = np.random.default_rng(0)
    stream = rng.normal(0, 1, 3000) + np.r_[np.zeros(1500), np.full(1500, 2.0)]
    detector = ADWIN()
    for i, x in enumerate(stream):
        detector.update(x)
        window = stream[i + 1 - detector.width : i + 1]
        assert detector.mean == pytest.approx(window.mean(), abs=1e-9)
        assert detector.variance == pytest.approx(window.var(), abs=1e-7)
    assert detector.detected_at and 1500 <= detector.detected_at[0] <= 1600
    assert detector.width - 1500 <= 32  # the old regime was dropped, up to bucket granularity
    assert detector.mean == pytest.approx(2.0, abs=0.1)


def test_adwin_memory_grows_with_the_log_of_the_window() -> None:
    detector = ADWIN()
    for x in np.random.default_rng(1).random(20000) < 0.3:
        detector.update(float(x))
    assert detector.width > 15000
    buckets = sum(len(level) for level in detector._levels)
    assert buckets <= (detector.max_buckets + 1) * math.ceil(math.log2(detector.width))


def test_adwin_detects_a_drop_too_and_page_hinkley_only_a_rise() -> None:
    rng = np.random.default_rng(4)
    better = np.r_[rng.random(2000) < 0.4, rng.random(1000) < 0.1].astype(float)
    assert detect_changes(better, "adwin")
    assert detect_changes(better, "page_hinkley") == []


def test_page_hinkley_update_returns_true_exactly_where_it_records_a_change(
    jump: np.ndarray,
) -> None:
    detector = PageHinkley()
    flags = [i for i, x in enumerate(jump) if detector.update(x)]
    assert flags == detector.detected_at == detect_changes(jump, "page_hinkley")
    detector.reset()
    assert detector.detected_at == [] and detector.statistic == 0.0


def test_page_hinkley_restarts_after_an_alarm_and_catches_the_next_rise() -> None:
    rng = np.random.default_rng(8)
    errors = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.4, rng.random(1000) < 0.8]
    flagged = detect_changes(errors.astype(float), "page_hinkley")
    assert 2000 <= flagged[0] <= 2300
    assert any(4000 <= i <= 4300 for i in flagged), flagged


def test_parameters_change_sensitivity(jump: np.ndarray) -> None:
    eager = detect_changes(jump, "page_hinkley", threshold=10)
    patient = detect_changes(jump, "page_hinkley", threshold=80)
    assert eager[0] < patient[0]
    assert detect_changes(jump, "page_hinkley", min_samples=5000) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PageHinkley(threshold=0), "threshold"),
        (lambda: PageHinkley(delta=-0.1), "delta"),
        (lambda: PageHinkley(alpha=0), "alpha"),
        (lambda: PageHinkley(alpha=1.5), "alpha"),
        (lambda: PageHinkley(min_samples=0), "min_samples"),
        (lambda: PageHinkley(threshold=float("nan")), "threshold"),
        (lambda: PageHinkley(delta="small"), "delta"),
        (lambda: ADWIN(delta=0), "delta"),
        (lambda: ADWIN(delta=1), "delta"),
        (lambda: ADWIN(clock=0), "clock"),
        (lambda: ADWIN(max_buckets=1), "max_buckets"),
        (lambda: ADWIN(min_window_length=2.5), "min_window_length"),
        (lambda: detect_changes([0, 1], "cusum"), "page_hinkley, adwin"),
        (lambda: detect_changes([0, 1], "adwin", threshold=3), "threshold"),
        (lambda: detect_changes([0, float("nan")]), "index 1"),
        (lambda: detect_changes([[0, 1]]), "one-dimensional"),
        (lambda: detect_changes(["x"]), "numbers"),
        (lambda: PageHinkley().update(float("nan")), "missing"),
        (lambda: ADWIN().update("high"), "number"),
    ],
)
def test_bad_parameters_and_samples_are_refused(make: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make()  # type: ignore[operator]


def test_an_empty_stream_has_no_changes() -> None:
    assert detect_changes([], "adwin") == [] and detect_changes(np.array([]), "page_hinkley") == []
    empty = ADWIN()
    assert empty.width == 0 and math.isnan(empty.mean)
