"""validate: a pipeline fails early with one readable report of every violation."""

from __future__ import annotations

import json
import pickle
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.schema import infer_schema
from loopml.data.validation import DataValidationError, ValidationReport, validate
from loopml.errors import InvalidInput


@pytest.fixture
def reference() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [18, 30, 45, 90],
            "income": [1000.0, 2500.5, np.nan, 4000.0],
            "city": ["paris", "lyon", "paris", "nice"],
            "member": [True, False, True, False],
            "joined": pd.to_datetime(["2020-01-01", "2021-06-01", "2022-01-01", "2023-12-31"]),
        }
    )


@pytest.fixture
def schema(reference: pd.DataFrame) -> dict:
    return infer_schema(reference)


def check(report: ValidationReport, column: str, name: str):
    found = [v for v in report.violations if v.column == column and v.check == name]
    assert len(found) == 1, report.render()
    return found[0]


def test_clean_frame_passes(reference, schema):
    report = validate(reference, schema, unique=["id"])
    assert report.ok
    assert report.violations == []
    assert report.n_rows == 4
    assert "passed" in str(report)


def test_schema_can_be_a_reference_frame(reference):
    assert validate(reference.iloc[:2], reference).ok
    bad = reference.assign(city=["paris", "rome", "paris", "oslo"])
    report = validate(bad, reference, raise_on_error=False)
    assert check(report, "city", "category").examples == ["rome", "oslo"]


def test_missing_and_extra_columns(reference, schema):
    frame = reference.drop(columns=["age"]).assign(note=["a", "b", "c", "d"])
    report = validate(frame, schema, raise_on_error=False)
    assert check(report, "age", "missing_column").count == 4
    assert check(report, "note", "extra_column").count == 4
    assert "allow_extra_columns=True" in str(report)
    allowed = validate(frame, schema, allow_extra_columns=True, raise_on_error=False)
    assert [(v.column, v.check) for v in allowed.violations] == [("age", "missing_column")]


def test_strings_in_a_numeric_column(reference, schema):
    frame = reference.astype({"income": object})
    frame.loc[[1, 3], "income"] = ["n/a", "lots"]
    frame.loc[0, "income"] = "1500"  # readable as a number: not a type violation
    v = check(validate(frame, schema, raise_on_error=False), "income", "type")
    assert (v.count, v.examples, v.rows) == (2, ["n/a", "lots"], [1, 3])
    assert "numeric" in v.message


def test_fractions_and_text_in_an_integer_column(reference, schema):
    frame = reference.astype({"age": object})
    frame.loc[:, "age"] = [18.0, 30.5, "x", np.inf]
    v = check(validate(frame, schema, raise_on_error=False), "age", "type")
    assert (v.count, v.examples, v.rows) == (3, [30.5, "x", "inf"], [1, 2, 3])


def test_integer_column_read_as_float_because_of_missing_values_is_fine(reference, schema):
    schema["columns"][1]["nullable"] = True
    frame = reference.assign(age=[18.0, np.nan, 45.0, 90.0])
    assert validate(frame, schema).ok


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        (["true", 1, "maybe", False], ["maybe"]),
        ([True, False, 2, None], [2]),
    ],
)
def test_boolean_type(reference, schema, values, bad):
    schema["columns"][4]["nullable"] = True
    frame = reference.assign(member=pd.Series(values, dtype=object))
    assert check(validate(frame, schema, raise_on_error=False), "member", "type").examples == bad


def test_datetime_type_and_range(reference, schema):
    frame = reference.assign(joined=["2021-01-01", "not a date", "2030-01-01", "2019-05-05"])
    report = validate(frame, schema, raise_on_error=False)
    assert check(report, "joined", "type").examples == ["not a date"]
    assert check(report, "joined", "above_max").rows == [2]
    assert check(report, "joined", "below_min").examples == ["2019-05-05"]


def test_ranges_are_limits(reference, schema):
    frame = reference.assign(age=[17, 30, 91, 120], income=[-5.0, 1500.0, 2000.0, 1e9])
    report = validate(frame, schema, raise_on_error=False)
    low = check(report, "age", "below_min")
    assert (low.count, low.examples, low.rows) == (1, [17], [0])
    high = check(report, "age", "above_max")
    assert (high.count, high.examples, high.rows) == (2, [91, 120], [2, 3])
    assert "90" in high.message
    assert check(report, "income", "below_min").examples == [-5.0]
    assert check(report, "income", "above_max").examples == [1e9]
    schema["columns"][1]["max"] = None  # a hand-edited schema lifts the limit
    assert not [
        v
        for v in validate(frame, schema, raise_on_error=False).violations
        if v.column == "age" and v.check == "above_max"
    ]


def test_infinities_allowed_only_when_the_reference_had_them(schema, reference):
    frame = reference.assign(income=[1000.0, np.inf, 2000.0, -np.inf])
    assert check(validate(frame, schema, raise_on_error=False), "income", "above_max").count == 1
    schema["columns"][2]["has_inf"] = True
    assert validate(frame, schema).ok


def test_categories(reference, schema):
    frame = reference.assign(city=["paris", "rome", "rome", "oslo"])
    v = check(validate(frame, schema, raise_on_error=False), "city", "category")
    assert (v.count, v.examples, v.rows) == (3, ["rome", "oslo"], [1, 2, 3])
    assert "lyon" in v.message  # a short allowed set is listed


def test_category_dtype_column(reference, schema):
    frame = reference.assign(city=pd.Categorical(["paris", "nice", "rome", None]))
    report = validate(frame, schema, raise_on_error=False)
    assert check(report, "city", "category").examples == ["rome"]
    assert check(report, "city", "null").rows == [3]


def test_nulls_where_not_nullable(reference, schema):
    frame = reference.assign(city=["paris", None, np.nan, "nice"], income=[np.nan] * 4)
    report = validate(frame, schema, raise_on_error=False)
    v = check(report, "city", "null")
    assert (v.count, v.rows, v.examples) == (2, [1, 2], [])
    assert not [v for v in report.violations if v.column == "income"]  # income is nullable


def test_uniqueness(reference, schema):
    frame = reference.assign(id=[7, 7, 8, 7], city=["paris"] * 4)
    report = validate(frame, schema, unique=["id", "city"], raise_on_error=False)
    v = check(report, "id", "unique")
    assert (v.count, v.examples, v.rows) == (2, [7], [1, 3])
    assert check(report, "city", "unique").count == 3
    assert validate(reference, schema, unique=["id"]).ok


def test_unique_column_must_exist(reference, schema):
    with pytest.raises(InvalidInput, match="nope"):
        validate(reference, schema, unique=["nope"])


def test_examples_are_capped_distinct_and_json_safe(schema):
    frame = pd.DataFrame(
        {
            "id": np.arange(100),
            "age": np.arange(100, 200),
            "income": np.ones(100),
            "city": ["paris"] * 100,
            "member": [True] * 100,
            "joined": pd.Timestamp("2030-01-01") + pd.to_timedelta(np.arange(100), unit="D"),
        }
    )
    report = validate(frame, schema, raise_on_error=False)
    v = check(report, "age", "above_max")
    assert v.count == 100
    assert v.examples == [100, 101, 102, 103, 104]
    assert all(type(e) is int for e in v.examples)
    assert check(report, "joined", "above_max").examples[0] == "2030-01-01T00:00:00"
    assert "first rows 0, 1, 2, 3, 4" in str(report)
    json.dumps(report.to_dict())


def test_report_lists_every_violation_in_column_order(reference, schema):
    frame = reference.assign(
        note=1, id=[1, 1, 2, 3], city=["x", "paris", "y", None], age=[1, 2, 3, 1000]
    ).drop(columns=["member"])
    report = validate(frame, schema, unique=["id"], raise_on_error=False)
    got = [(v.column, v.check) for v in report.violations]
    assert got == [
        ("id", "unique"),
        ("age", "below_min"),
        ("age", "above_max"),
        ("city", "null"),
        ("city", "category"),
        ("member", "missing_column"),
        ("note", "extra_column"),
    ]
    lines = str(report).splitlines()
    assert lines[0].startswith("data validation failed: 7 violation(s)")
    assert len(lines) == 1 + len(got)
    for line, (column, name) in zip(lines[1:], got, strict=True):
        assert line.strip().startswith(f"{column}: {name}: ")
    data = report.to_dict()
    assert data["ok"] is False and len(data["violations"]) == 7
    assert data["violations"][1] == {
        "column": "age",
        "check": "below_min",
        "count": 3,
        "examples": [1, 2, 3],
        "rows": [0, 1, 2],
        "message": "below the minimum 18",
    }


def test_error_carries_the_full_report(reference, schema):
    frame = reference.assign(age=[1, 2, 3, 4], city="rome")
    with pytest.raises(DataValidationError) as caught:
        validate(frame, schema)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert not error.report.ok
    for violation in error.report.violations:
        assert violation.render() in str(error)
    again = pickle.loads(pickle.dumps(error))  # crosses process-pool and Dask workers intact
    assert str(again) == str(error) and again.report == error.report


@pytest.mark.parametrize(
    ("bad_schema", "match"),
    [
        ({"cols": []}, "'columns' list"),
        ({"columns": [{"kind": "numeric"}]}, "string 'name'"),
        ({"columns": [{"name": "a", "kind": "float"}]}, "use one of"),
        ({"columns": [{"name": "a", "nulable": False}]}, "nulable"),
        ({"columns": [{"name": "a"}, {"name": "a"}]}, "twice"),
        ({"columns": [{"name": "a", "kind": "numeric", "min": "0"}]}, "needs a number"),
        ({"columns": [{"name": "a", "max": 3}]}, "needs kind numeric, integer or datetime"),
        ({"columns": [{"name": "a", "kind": "datetime", "max": "soon"}]}, "needs a date"),
    ],
)
def test_bad_schema_is_refused(bad_schema, match):
    with pytest.raises(InvalidInput, match=match):
        validate(pd.DataFrame({"a": [1.0]}), bad_schema)


def test_minimal_hand_written_schema():
    schema = {"columns": [{"name": "a", "kind": "integer", "min": 0}, {"name": "b"}]}
    frame = pd.DataFrame({"a": ["3", -1, None], "b": [object(), None, 1]})
    report = validate(frame, schema, raise_on_error=False)
    assert [(v.column, v.check, v.examples) for v in report.violations] == [
        ("a", "below_min", [-1])
    ]


def test_tz_aware_datetimes():
    ref = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-02-01"]).tz_localize("UTC")})
    cur = pd.DataFrame({"t": pd.to_datetime(["2024-01-15", "2024-03-01"]).tz_localize("UTC")})
    assert check(validate(cur, ref, raise_on_error=False), "t", "above_max").rows == [1]


frames = st.lists(
    st.tuples(
        st.integers(-(2**40), 2**40),
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        st.one_of(st.none(), st.sampled_from(["a", "b", "é", ""])),
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.text(max_size=5)),
    ),
    min_size=0,
    max_size=30,
).map(lambda rows: pd.DataFrame(rows, columns=["i", "f", "c", "b", "t"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_any_frame_passes_its_own_inferred_schema(frame):
    assert validate(frame, infer_schema(frame)).ok


def test_performance_one_million_rows_twenty_columns():
    rng = np.random.default_rng(0)
    n = 1_000_000
    columns: dict[str, object] = {}
    for i in range(6):
        columns[f"num{i}"] = rng.normal(size=n)
    for i in range(6):
        columns[f"int{i}"] = rng.integers(0, 1000, n)
    for i in range(4):
        columns[f"cat{i}"] = rng.choice(["red", "green", "blue", "black"], n)
    columns["flag"] = rng.random(n) > 0.5
    columns["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), "s")
    columns["id"] = np.arange(n)
    columns["kind"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    frame = pd.DataFrame(columns)
    schema = infer_schema(frame)
    start = time.perf_counter()
    report = validate(frame, schema, unique=["id"])
    elapsed = time.perf_counter() - start
    assert report.ok
    print(f"\nvalidate: {n:,} rows x {frame.shape[1]} columns in {elapsed:.3f} s")


def test_a_schema_declared_in_loopml_yaml_is_checked():
    import pandas as pd

    from loopml.data.validation import DataValidationError, validate
    from loopml.project import parse_project

    spec = parse_project(
        "name: shop\ntask: binary\ntarget: churned\ncolumns:\n"
        "  - {name: customer_id, kind: integer, nullable: false, unique: true}\n"
        "  - {name: age, kind: integer, min: 18, max: 120}\n"
        "  - {name: plan, kind: categorical, categories: [basic, pro]}\n"
    )
    good = pd.DataFrame({"customer_id": [1, 2], "age": [30, 40], "plan": ["basic", "pro"]})
    assert validate(good, spec).ok
    bad = pd.DataFrame({"customer_id": [1, 1], "age": [17, 40], "plan": ["basic", "gold"]})
    with pytest.raises(DataValidationError) as caught:
        validate(bad, spec)
    checks = {(v.column, v.check) for v in caught.value.report.violations}
    assert checks == {("customer_id", "unique"), ("age", "below_min"), ("plan", "category")}
    empty = parse_project("name: shop\ntask: binary\ntarget: churned\n")
    with pytest.raises(InvalidInput, match="declares no `columns:`"):
        validate(good, empty)
