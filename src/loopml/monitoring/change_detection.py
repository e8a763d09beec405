"""Streaming change detectors for the error stream (concept drift).

When labels arrive, each prediction's error (0/1 for a classifier, a loss for a regressor)
becomes one sample. A shift in the error rate means the relation from inputs to labels moved,
which input drift alone cannot show. Both detectors see one sample at a time in O(1)
amortised memory, so the stream worker can run them live:

* :class:`PageHinkley` — cumulative deviation above the running mean; detects increases
  (the model got worse), cheap, one threshold to tune.
* :class:`ADWIN` — an adaptive window that drops its oldest part whenever two sub-windows
  differ more than a Hoeffding-style bound allows (Bifet & Gavaldà 2007, ADWIN2 with its
  exponential histogram); detects changes either way, with a false-alarm bound ``delta``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = ["ADWIN", "METHODS", "PageHinkley", "detect_changes"]


def _number(
    name: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise InvalidInput(
            f"{name} must be a number in {left}{low:g}, {high:g}{right}, got {value!r}"
        )
    return float(value)


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidInput(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _sample(x: Any) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"update() takes one number (an error or a loss), got {x!r}") from exc
    if not math.isfinite(value):
        raise InvalidInput(f"update() got {x!r}; drop missing or infinite errors before the stream")
    return value


class PageHinkley:
    """Page-Hinkley test for an increase of the mean.

    ``delta``: the change too small to matter; ``threshold`` (lambda): the cumulative
    excess that raises the alarm (higher: fewer false alarms, later detection); ``alpha``:
    fading factor of the cumulative sum; ``min_samples``: no alarm before this many samples.
    After an alarm the statistics restart, so the next change is measured from there.
    """

    def __init__(
        self,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 1e-4,
        min_samples: int = 30,
    ) -> None:
        self.delta = _number("delta", delta, low=0.0)
        self.threshold = _number("threshold", threshold, low=0.0, low_open=True)
        self.alpha = _number("alpha", alpha, low=0.0, high=1.0, low_open=True)
        self.min_samples = _count("min_samples", min_samples, 1)
        self.reset()

    def reset(self) -> None:
        """Forget everything: statistics, sample count and ``detected_at``."""
        self.detected_at: list[int] = []
        self._seen = 0
        self._restart()

    def _restart(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._sum = 0.0
        self._min = math.inf

    @property
    def statistic(self) -> float:
        """The current test statistic (cumulative sum minus its minimum)."""
        return 0.0 if self._n == 0 else self._sum - self._min

    def update(self, x: float) -> bool:
        """Add one sample; ``True`` when this sample raises the alarm."""
        value = _sample(x)
        index = self._seen
        self._seen += 1
        self._n += 1
        self._mean += (value - self._mean) / self._n
        self._sum = self.alpha * self._sum + (value - self._mean - self.delta)
        self._min = min(self._min, self._sum)
        if self._n >= self.min_samples and self._sum - self._min > self.threshold:
            self.detected_at.append(index)
            self._restart()
            return True
        return False


class ADWIN:
    """ADaptive WINdowing over an exponential histogram of buckets.

    Level ``i`` holds buckets of ``2**i`` samples (their total and sum of squared
    deviations), at most ``max_buckets`` per level: memory and the cut search are
    O(max_buckets * log(width)). Every ``clock`` samples each cut between buckets is tested;
    where the means of the older and newer parts differ by more than

        eps = sqrt(2 m v ln(2 ln(W) / delta)) + 2/3 m ln(2 ln(W) / delta),
        m = 1/(n0 - mwl + 1) + 1/(n1 - mwl + 1)

    (``v`` the window variance, ``W`` its width, ``mwl`` = ``min_window_length``, as MOA and
    river compute it), the oldest bucket is dropped and the search repeats.
    """

    def __init__(
        self,
        delta: float = 0.002,
        *,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self.delta = _number("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
        self.clock = _count("clock", clock, 1)
        self.max_buckets = _count("max_buckets", max_buckets, 2)
        self.min_window_length = _count("min_window_length", min_window_length, 1)
        self.grace_period = _count("grace_period", grace_period, 1)
        self.reset()

    def reset(self) -> None:
        """Empty the window and forget ``detected_at``."""
        # _levels[i]: buckets of 2**i samples, oldest first, each [total, squared deviations]
        self._levels: list[deque[list[float]]] = []
        self._width = 0
        self._total = 0.0
        self._m2 = 0.0  # sum of squared deviations from the window mean
        self._seen = 0
        self.detected_at: list[int] = []

    @property
    def width(self) -> int:
        """How many of the latest samples the window holds."""
        return self._width

    @property
    def mean(self) -> float:
        """Mean of the samples in the window (NaN when empty)."""
        return self._total / self._width if self._width else math.nan

    @property
    def variance(self) -> float:
        """Population variance of the samples in the window (NaN when empty)."""
        return self._m2 / self._width if self._width else math.nan

    def update(self, x: float) -> bool:
        """Add one sample; ``True`` when the window shrank (a change was detected)."""
        value = _sample(x)
        index = self._seen
        self._seen += 1
        if self._width:
            mean = self._total / self._width
            self._m2 += self._width * (value - mean) ** 2 / (self._width + 1)
        self._width += 1
        self._total += value
        if not self._levels:
            self._levels.append(deque())
        self._levels[0].append([value, 0.0])
        self._compress()
        if self._seen % self.clock == 0 and self._width > max(self.grace_period, 2):
            changed = self._shrink()
            if changed:
                self.detected_at.append(index)
            return changed
        return False

    def _compress(self) -> None:
        """Merge the two oldest buckets of any level holding too many into the next one."""
        for level, buckets in enumerate(self._levels):
            if len(buckets) <= self.max_buckets:
                break
            size = 2**level
            (t1, v1), (t2, v2) = buckets.popleft(), buckets.popleft()
            merged = v1 + v2 + size * size * (t1 / size - t2 / size) ** 2 / (2 * size)
            if level + 1 == len(self._levels):
                self._levels.append(deque())
            self._levels[level + 1].append([t1 + t2, merged])

    def _shrink(self) -> bool:
        """Drop oldest buckets while some cut separates two different means."""
        changed = False
        while self._width > max(self.grace_period, 2) and self._has_cut():
            self._drop_oldest()
            changed = True
        return changed

    def _has_cut(self) -> bool:
        mwl = self.min_window_length
        variance = self._m2 / self._width
        dd = math.log(2 * math.log(self._width) / self.delta)
        n0, total0 = 0, 0.0
        for level in range(len(self._levels) - 1, -1, -1):  # oldest level first
            size = 2**level
            for bucket_total, _ in self._levels[level]:
                n0 += size
                total0 += bucket_total
                n1 = self._width - n0
                if n1 < mwl:
                    return False
                if n0 < mwl:
                    continue
                gap = abs(total0 / n0 - (self._total - total0) / n1)
                m = 1 / (n0 - mwl + 1) + 1 / (n1 - mwl + 1)
                if gap > math.sqrt(2 * m * variance * dd) + 2 / 3 * dd * m:
                    return True
        return False

    def _drop_oldest(self) -> None:
        level = len(self._levels) - 1
        size = 2**level
        bucket_total, bucket_m2 = self._levels[level].popleft()
        if not self._levels[level]:
            self._levels.pop()
        self._width -= size
        self._total -= bucket_total
        if self._width:
            gap = bucket_total / size - self._total / self._width
            self._m2 -= bucket_m2 + size * self._width * gap * gap / (size + self._width)
            self._m2 = max(self._m2, 0.0)
        else:
            self._total, self._m2 = 0.0, 0.0


METHODS = {"page_hinkley": PageHinkley, "adwin": ADWIN}


def detect_changes(
    errors: Sequence[float] | np.ndarray, method: str = "page_hinkley", **params: Any
) -> list[int]:
    """Run a detector over a whole error stream; the indices where it raised an alarm.

    ``params`` go to :class:`PageHinkley` or :class:`ADWIN`.
    """
    if method not in METHODS:
        raise InvalidInput(f"method {method!r} is not known; use one of {', '.join(METHODS)}")
    try:
        values = np.asarray(errors, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"errors must be a sequence of numbers ({exc})") from exc
    if values.ndim != 1:
        raise InvalidInput(f"errors must be one-dimensional, got shape {values.shape}")
    if not np.isfinite(values).all():
        first = int(np.argmax(~np.isfinite(values)))
        raise InvalidInput(f"errors holds NaN or infinite values (first at index {first})")
    try:
        detector = METHODS[method](**params)
    except TypeError as exc:
        raise InvalidInput(
            f"{method}: {exc}; see help(loopml.monitoring.change_detection)"
        ) from exc
    return [i for i, x in enumerate(values.tolist()) if detector.update(x)]
