"""Schemas say what each column is; as_frame turns user input into a frame or says why not."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from loopml.data.frames import as_frame
from loopml.data.schema import infer_schema
from loopml.errors import InvalidInput


def columns_by_name(df: pd.DataFrame, **kwargs) -> dict[str, dict]:
    return {c["name"]: c for c in infer_schema(df, **kwargs)["columns"]}


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pd.Series([1.0, 2.5]), "numeric"),
        (pd.Series([1.0, 2.5], dtype="float32"), "numeric"),
        (pd.array([1.5, None], dtype="Float64"), "numeric"),
        (pd.Series([1, 2]), "integer"),
        (pd.Series([1, 2], dtype="uint8"), "integer"),
        (pd.array([1, None], dtype="Int64"), "integer"),
        (pd.Series([True, False]), "boolean"),
        (pd.array([True, None], dtype="boolean"), "boolean"),
        (pd.Series([True, None], dtype=object), "boolean"),
        (pd.Categorical(["a", "b"]), "categorical"),
        (pd.Series(["a", "b"], dtype=object), "categorical"),
        (pd.array(["a", "b"], dtype="str"), "categorical"),
        (pd.array(["a", "b"], dtype="string"), "categorical"),
        (pd.to_datetime(["2024-01-01", None]), "datetime"),
        (pd.to_datetime(["2024-01-01"]).tz_localize("UTC"), "datetime"),
    ],
)
def test_kind_follows_dtype(values, kind):
    assert columns_by_name(pd.DataFrame({"c": values}))["c"]["kind"] == kind


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_low_cardinality_text_is_categorical_with_sorted_categories(dtype):
    few = pd.Series(["b", "a", None, "b", "c"], dtype=dtype)
    many = pd.Series([f"id{i}" for i in range(60)], dtype=dtype)
    cols = columns_by_name(pd.DataFrame({"few": few, "many": many.iloc[:5]}))
    assert cols["few"]["kind"] == "categorical"
    assert cols["few"]["categories"] == ["a", "b", "c"]
    wide = columns_by_name(pd.DataFrame({"many": many}), max_categories=50)["many"]
    assert wide["kind"] == "text"
    assert wide["categories"] is None


def test_category_dtype_lists_all_declared_categories():
    cat = pd.Categorical(["b"], categories=["b", "a", "zz"])
    assert columns_by_name(pd.DataFrame({"c": cat}))["c"]["categories"] == ["a", "b", "zz"]


def test_nullable_reports_missing_values_in_the_data():
    cols = columns_by_name(pd.DataFrame({"full": [1.0, 2.0], "holes": [1.0, None]}))
    assert cols["full"]["nullable"] is False
    assert cols["holes"]["nullable"] is True


def test_ranges_are_plain_python_values():
    big = 2**62 + 1
    df = pd.DataFrame(
        {
            "i": np.array([big, -3], dtype="int64"),
            "f": [np.inf, -1.5],
            "t": pd.to_datetime(["2024-03-01", "2023-01-02"]).tz_localize("UTC"),
            "empty": [np.nan, np.nan],
        }
    )
    cols = columns_by_name(df)
    assert (cols["i"]["min"], cols["i"]["max"]) == (-3, big)  # exact, not via float
    assert type(cols["i"]["max"]) is int
    assert (cols["f"]["min"], cols["f"]["max"], cols["f"]["has_inf"]) == (-1.5, -1.5, True)
    assert cols["t"]["min"] == "2023-01-02T00:00:00+00:00"
    assert cols["t"]["max"].startswith("2024-03-01T00:00:00")
    assert (cols["empty"]["min"], cols["empty"]["max"]) == (None, None)


def test_schema_keeps_column_order_and_round_trips_through_json():
    df = pd.DataFrame(
        {
            "z": [1.0, np.inf],
            "a": pd.array([1, None], dtype="Int64"),
            "m": pd.Categorical(["x", None]),
            "t": pd.to_datetime(["2024-01-01", None]),
            "s": pd.Series(["x", None], dtype=object),
            "b": [True, False],
        }
    )
    schema = infer_schema(df)
    assert [c["name"] for c in schema["columns"]] == ["z", "a", "m", "t", "s", "b"]
    assert schema["n_columns"] == 6
    assert json.loads(json.dumps(schema, allow_nan=False)) == schema


def test_empty_frame_gives_a_schema():
    schema = infer_schema(
        pd.DataFrame({"x": pd.Series([], dtype=float), "s": pd.Series([], dtype=object)})
    )
    assert [c["kind"] for c in schema["columns"]] == ["numeric", "text"]


def test_duplicated_columns_are_refused_by_name():
    df = pd.DataFrame([[1, 2]], columns=["age", "age"])
    with pytest.raises(InvalidInput, match="age"):
        infer_schema(df)


def test_bad_max_categories_names_the_field():
    with pytest.raises(InvalidInput, match="max_categories"):
        infer_schema(pd.DataFrame({"a": [1]}), max_categories=-1)


# as_frame: every accepted shape, and every refusal names the argument and the problem


@pytest.mark.parametrize(
    "data",
    [
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        {"a": [1, 2], "b": ["x", "y"]},
        [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
    ],
)
def test_as_frame_accepts_frames_dicts_and_records(data):
    frame = as_frame(data)
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2]


def test_as_frame_returns_a_frame_unchanged():
    df = pd.DataFrame({"a": [1]})
    assert as_frame(df) is df


def test_as_frame_names_array_and_series_columns_by_position():
    assert list(as_frame(np.zeros((3, 2))).columns) == ["0", "1"]
    assert list(as_frame(np.zeros(3)).columns) == ["0"]
    assert list(as_frame(pd.Series([1, 2], name="age")).columns) == ["age"]
    assert list(as_frame(pd.Series([1, 2])).columns) == ["0"]


def test_as_frame_turns_column_names_into_strings_without_touching_the_input():
    df = pd.DataFrame({1: [1.0], 2: [2.0]})
    frame = as_frame(df)
    assert list(frame.columns) == ["1", "2"]
    assert list(df.columns) == [1, 2]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("a,b\n1,2", "cannot use a str"),
        (42, "cannot use a int"),
        (pd.DataFrame(), "no columns"),
        ({}, "no columns"),
        ([], "no columns"),
        (np.zeros((2, 2, 2)), "3 dimensions"),
        ([{"a": 1}, [1, 2]], "record 1"),
        ({"a": [1, 2], "b": [1]}, "cannot build a table"),
        (pd.DataFrame([[1, 2]], columns=["age", "age"]), "duplicated column name.*'age'"),
        (pd.DataFrame([[1, 2]], columns=[1, "1"]), "duplicated column name.*'1'"),
    ],
)
def test_as_frame_refusals_name_the_argument_and_the_problem(data, problem):
    with pytest.raises(InvalidInput, match=f"^train: .*{problem}"):
        as_frame(data, name="train")
