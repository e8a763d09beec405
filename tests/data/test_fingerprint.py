"""Fingerprints identify a dataset: same data -> same digest, any change -> another digest."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.fingerprint import fingerprint
from loopml.data.frames import as_frame
from loopml.errors import InvalidInput


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, np.nan, -2.0, 3.25],
            "n": [1, 2, 3, 4],
            "city": ["Oslo", "Lima", None, "Oslo"],
            "ok": [True, False, True, True],
        }
    )


def test_same_data_built_differently_has_same_fingerprint(tmp_path):
    from_dict = sample()
    from_records = as_frame(from_dict.to_dict(orient="records"))
    path = tmp_path / "d.parquet"
    from_dict.to_parquet(path)
    from_parquet = pd.read_parquet(path)
    assert fingerprint(from_records) == fingerprint(from_dict)
    assert fingerprint(from_parquet) == fingerprint(from_dict)
    arr = np.arange(12.0).reshape(4, 3)
    assert fingerprint(as_frame(arr)) == fingerprint(
        pd.DataFrame({"0": arr[:, 0], "1": arr[:, 1], "2": arr[:, 2]})
    )


def test_index_is_ignored():
    df = sample()
    relabelled = df.set_axis(["a", "b", "c", "d"], axis=0)
    filtered = pd.concat([df, df]).iloc[4:]  # same rows, index 0..3 again but from a concat
    shifted = df.copy()
    shifted.index = shifted.index + 100
    assert fingerprint(relabelled) == fingerprint(df)
    assert fingerprint(filtered.reset_index(drop=True)) == fingerprint(df)
    assert fingerprint(shifted) == fingerprint(df)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.assign(x=[1.5, np.nan, -2.0, 3.5]), id="one value"),
        pytest.param(lambda d: d.assign(x=[1.5, 0.0, -2.0, 3.25]), id="nan filled"),
        pytest.param(lambda d: d.assign(city=["Oslo", "Lima", "None", "Oslo"]), id="none->text"),
        pytest.param(lambda d: d.rename(columns={"x": "y"}), id="column name"),
        pytest.param(lambda d: d[["n", "x", "city", "ok"]], id="column order"),
        pytest.param(lambda d: d.astype({"n": "float64"}), id="int->float dtype"),
        pytest.param(lambda d: d.astype({"x": "float32"}), id="float width"),
        pytest.param(lambda d: d.astype({"city": "category"}), id="text->category"),
        pytest.param(lambda d: d.iloc[:3], id="row dropped"),
        pytest.param(lambda d: d.iloc[::-1].reset_index(drop=True), id="row order"),
    ],
)
def test_any_change_changes_fingerprint(change):
    df = sample()
    assert fingerprint(change(df)) != fingerprint(df)


def kinds_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mixed": pd.Series([1, "1", None, 2.5, b"x", [1, 2]], dtype=object),
            "cat": pd.Categorical(["a", "b", None, "a", "b", "a"]),
            "ts": pd.date_range("2024-01-01", periods=6, freq="h", tz="Europe/Oslo"),
            "flag": [True, False, True, True, False, False],
            "count": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "text": pd.array(["a", None, "c", "d", "e", "f"], dtype="str"),
            "label": pd.array(["a", None, "c", "d", "e", "f"], dtype="string"),
        }
    )


@pytest.mark.parametrize("column", list(kinds_frame().columns))
def test_every_dtype_is_fingerprinted_and_sensitive_to_values(column):
    df = kinds_frame()
    changed = df.copy()
    changed[column] = df[column].iloc[[1, 0, 2, 3, 4, 5]].to_numpy()
    changed[column] = changed[column].astype(df[column].dtype)
    assert fingerprint(df) == fingerprint(kinds_frame())
    assert fingerprint(changed) != fingerprint(df)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param([1, "a"], ["1", "a"], id="int vs str in object"),
        pytest.param([None, "a"], ["None", "a"], id="None vs 'None'"),
        pytest.param([b"a", 1], ["a", 1], id="bytes vs str"),
    ],
)
def test_object_values_of_different_types_differ(left, right):
    a = pd.DataFrame({"v": pd.Series(left, dtype=object)})
    b = pd.DataFrame({"v": pd.Series(right, dtype=object)})
    assert fingerprint(a) != fingerprint(b)


def test_missing_integer_differs_from_zero():
    a = pd.DataFrame({"v": pd.array([1, None], dtype="Int64")})
    b = pd.DataFrame({"v": pd.array([1, 0], dtype="Int64")})
    assert fingerprint(a) != fingerprint(b)


def test_category_set_and_order_are_part_of_the_dtype():
    base = pd.DataFrame({"c": pd.Categorical(["a", "b"], categories=["a", "b"])})
    extra = pd.DataFrame({"c": pd.Categorical(["a", "b"], categories=["a", "b", "z"])})
    ordered = pd.DataFrame({"c": pd.Categorical(["a", "b"], categories=["a", "b"], ordered=True)})
    assert len({fingerprint(base), fingerprint(extra), fingerprint(ordered)}) == 3


def test_time_zone_is_part_of_the_dtype():
    utc = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00"]).tz_localize("UTC")})
    assert fingerprint(utc) != fingerprint(utc.assign(t=utc["t"].dt.tz_convert("Asia/Tokyo")))


def test_equal_floats_hash_equal_whatever_their_bits():
    neg_nan = -np.float64(np.nan)  # a NaN with another bit pattern
    a = pd.DataFrame({"v": [0.0, np.nan]})
    b = pd.DataFrame({"v": [-0.0, neg_nan]})
    assert fingerprint(a) == fingerprint(b)


def test_fingerprint_is_stable_across_processes():
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_fingerprint import kinds_frame\n"
        "from loopml.data.fingerprint import fingerprint\n"
        "print(fingerprint(kinds_frame()))"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {fingerprint(kinds_frame())}


def test_empty_frames_have_fingerprints():
    assert fingerprint(pd.DataFrame({"a": pd.Series([], dtype="float64")})) != fingerprint(
        pd.DataFrame({"a": pd.Series([], dtype="int64")})
    )


def test_non_frame_input_is_refused_with_a_hint():
    with pytest.raises(InvalidInput, match="as_frame"):
        fingerprint([{"a": 1}])  # type: ignore[arg-type]


def test_large_frame_is_fast():
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(1_000_000, 20)))
    df.columns = [f"c{i}" for i in range(20)]
    start = time.perf_counter()
    fingerprint(df)
    print(f"fingerprint of 1,000,000 x 20 float64: {time.perf_counter() - start:.3f} s")


rows = st.lists(
    st.tuples(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**63), 2**63 - 1),
        st.one_of(st.none(), st.text(max_size=5)),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows, offset=st.integers(-1000, 1000))
def test_reconstruction_from_records_or_new_index_keeps_fingerprint(rows, offset):
    df = pd.DataFrame(rows, columns=["f", "i", "s"])
    again = pd.DataFrame(df.to_dict(orient="records"), columns=["f", "i", "s"])
    again.index = again.index * 3 + offset
    assert fingerprint(again) == fingerprint(df)
