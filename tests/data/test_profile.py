"""Profiles are the drift reference: counts must add up and bins must be reproducible."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.profile import bin_counts, profile_frame, quantile_edges
from loopml.errors import InvalidInput


def mixed_frame(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=n)
    x[:10] = np.nan
    x[10:12] = np.inf
    return pd.DataFrame(
        {
            "x": x,
            "n": pd.array(rng.integers(0, 100, size=n), dtype="Int64"),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "ok": rng.random(n) > 0.3,
            "note": [f"note number {i}" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="min"),
        }
    )


def test_profile_counts_add_up():
    df = mixed_frame()
    prof = profile_frame(df, bins=10)
    assert (prof["n_rows"], prof["n_columns"]) == (1000, 6)
    x = prof["columns"]["x"]
    assert x["kind"] == "numeric"
    assert (x["n_missing"], x["missing_rate"], x["n_inf"]) == (10, 0.01, 2)
    assert sum(x["bin_counts"]) == 1000 - 10 - 2
    assert len(x["bin_counts"]) == len(x["bins"]) - 1 == 10
    assert x["bins"] == sorted(x["bins"])
    assert x["min"] == x["bins"][0] and x["max"] == x["bins"][-1]
    color = prof["columns"]["color"]
    assert color["kind"] == "categorical"
    assert sum(color["frequencies"].values()) == 1000
    assert set(color["frequencies"]) == {"red", "green", "blue"}
    assert sum(prof["columns"]["ok"]["frequencies"].values()) == 1000
    assert set(prof["columns"]["ok"]["frequencies"]) == {"True", "False"}
    assert prof["columns"]["note"]["kind"] == "text"
    assert prof["columns"]["note"]["n_unique"] == 1000
    assert prof["columns"]["note"]["mean_length"] == pytest.approx(df["note"].str.len().mean())
    assert prof["columns"]["when"]["min"] == "2024-01-01T00:00:00"


def test_numeric_statistics_match_pandas():
    df = mixed_frame()
    n = profile_frame(df)["columns"]["n"]
    assert n["kind"] == "integer"
    assert n["mean"] == pytest.approx(df["n"].mean())
    assert n["std"] == pytest.approx(df["n"].std())
    assert n["quantiles"]["p50"] == pytest.approx(df["n"].astype(float).median())
    assert list(n["quantiles"]) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert isinstance(n["min"], int)


def test_quantile_bins_hold_about_equal_counts():
    values = np.random.default_rng(1).exponential(size=10_000)
    prof = profile_frame(pd.DataFrame({"v": values}), bins=5)["columns"]["v"]
    assert prof["bin_counts"] == [2000] * 5


def test_bins_do_not_depend_on_row_order():
    df = mixed_frame()
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = profile_frame(df)["columns"]
    b = profile_frame(shuffled)["columns"]
    for name in ("x", "n"):
        assert a[name]["bins"] == b[name]["bins"]
        assert a[name]["bin_counts"] == b[name]["bin_counts"]
        assert a[name]["quantiles"] == b[name]["quantiles"]
    assert a["color"]["frequencies"] == b["color"]["frequencies"]


def test_current_data_is_counted_into_reference_bins_without_losing_rows():
    edges = quantile_edges(np.arange(100.0), bins=4)
    counts = bin_counts(np.array([-50.0, 0.0, 50.0, 99.0, 500.0, np.nan]), edges)
    assert counts == [2, 0, 1, 2]  # below range -> first bin, above -> last, NaN left out


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(pd.Series([np.nan, np.nan]), id="all-nan"),
        pytest.param(pd.Series([np.inf, -np.inf]), id="all-inf"),
        pytest.param(pd.Series([], dtype="float64"), id="empty"),
        pytest.param(pd.array([None, None], dtype="Int64"), id="all-NA Int64"),
    ],
)
def test_columns_without_finite_values_profile_to_none(values):
    col = profile_frame(pd.DataFrame({"v": values}))["columns"]["v"]
    assert col["min"] is None and col["max"] is None and col["mean"] is None
    assert col["bins"] == [] and col["bin_counts"] == []
    assert all(q is None for q in col["quantiles"].values())


def test_constant_column_has_one_bin_holding_every_value():
    col = profile_frame(pd.DataFrame({"v": [3.0] * 7 + [np.nan]}))["columns"]["v"]
    assert col["bins"] == [3.0, 3.0]
    assert col["bin_counts"] == [7]
    assert (col["min"], col["max"], col["std"], col["n_unique"]) == (3.0, 3.0, 0.0, 1)


def test_zero_row_frame_profiles_every_kind():
    prof = profile_frame(mixed_frame().iloc[:0])
    assert prof["n_rows"] == 0
    for col in prof["columns"].values():
        assert col["n_missing"] == 0 and col["missing_rate"] == 0.0


def test_all_missing_text_column():
    col = profile_frame(pd.DataFrame({"s": pd.Series([None, None], dtype=object)}))["columns"]["s"]
    assert col["kind"] == "text"
    assert (col["missing_rate"], col["mean_length"]) == (1.0, None)


def test_frequencies_keep_top_values_and_count_the_rest():
    values = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d", "e"]
    df = pd.DataFrame({"s": pd.Categorical(values)})
    freqs = profile_frame(df, max_categories=2)["columns"]["s"]["frequencies"]
    assert freqs == {"a": 5, "b": 3, "__other__": 5}  # tie b/c broken by value
    assert list(freqs) == ["a", "b", "__other__"]


def test_extreme_values_give_finite_bins_and_no_infinite_statistics():
    col = profile_frame(pd.DataFrame({"v": [-1.7e308, 1.7e308]}), bins=4)["columns"]["v"]
    assert all(np.isfinite(col["bins"])) and sum(col["bin_counts"]) == 2
    assert col["std"] is None  # overflows: undefined rather than inf
    json.dumps(col, allow_nan=False)


def test_profile_round_trips_through_json():
    prof = profile_frame(mixed_frame())
    assert json.loads(json.dumps(prof, allow_nan=False)) == prof


@pytest.mark.parametrize(
    ("field", "kwargs"), [("bins", {"bins": 0}), ("max_categories", {"max_categories": -1})]
)
def test_bad_arguments_name_the_field(field, kwargs):
    with pytest.raises(InvalidInput, match=field):
        profile_frame(pd.DataFrame({"a": [1.0]}), **kwargs)


def test_duplicated_columns_are_refused_by_name():
    with pytest.raises(InvalidInput, match="'x'"):
        profile_frame(pd.DataFrame([[1, 2]], columns=["x", "x"]))


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=60),
    bins=st.integers(1, 12),
)
def test_bin_counts_sum_to_the_number_of_finite_values(values, bins):
    col = profile_frame(pd.DataFrame({"v": pd.Series(values, dtype="float64")}), bins=bins)
    prof = col["columns"]["v"]
    finite = int(np.isfinite(np.asarray(values, dtype="float64")).sum())
    assert sum(prof["bin_counts"]) == finite
    assert len(prof["bins"]) <= max(bins + 1, 2)
    assert prof["n_missing"] + prof["n_inf"] + finite == len(values)
    json.dumps(prof, allow_nan=False)
