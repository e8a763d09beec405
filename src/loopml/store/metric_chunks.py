"""Packing of metric points into compressed chunks: the layout that keeps 10^7 points cheap.

A chunk holds n points as three little-endian arrays (int64 steps, int64 ms timestamps,
float64 values) concatenated and zlib-compressed at level 1 (fast; steps and timestamps
compress well). NaN and infinities survive unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np

_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")
MAX_CHUNK_POINTS = 1_000_000


def encode(steps: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> bytes:
    raw = (
        np.ascontiguousarray(steps, dtype=_I8).tobytes()
        + np.ascontiguousarray(timestamps, dtype=_I8).tobytes()
        + np.ascontiguousarray(values, dtype=_F8).tobytes()
    )
    return zlib.compress(raw, 1)


def decode(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = zlib.decompress(data)
    if len(raw) != 24 * n:
        raise ValueError(f"metric chunk is corrupt: {len(raw)} bytes for {n} points")
    steps = np.frombuffer(raw, dtype=_I8, count=n, offset=0)
    timestamps = np.frombuffer(raw, dtype=_I8, count=n, offset=8 * n)
    values = np.frombuffer(raw, dtype=_F8, count=n, offset=16 * n)
    return steps, timestamps, values


def sort_points(
    steps: np.ndarray, timestamps: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order by (step, timestamp), keeping logging order among equal pairs."""
    if steps.shape[0] < 2 or (np.all(np.diff(steps) > 0)):
        return steps, timestamps, values
    order = np.lexsort((timestamps, steps))
    return steps[order], timestamps[order], values[order]


def latest_index(steps: np.ndarray, timestamps: np.ndarray) -> int:
    """Index of the newest point: highest step, then latest timestamp, then last logged."""
    order = np.lexsort((np.arange(steps.shape[0]), timestamps, steps))
    return int(order[-1])
