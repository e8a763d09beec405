"""Signatures say what a model takes; validate() names every bad field before the model runs."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.data.profile import profile_frame
from loopml.errors import InvalidInput
from loopml.models.signature import (
    MAX_ERRORS,
    ColumnSpec,
    Signature,
    infer_signature,
    validate,
)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50.0, 10.0, n),
            "city": rng.choice(["oslo", "paris", "rome"], n),
            "vip": rng.random(n) > 0.5,
            "signup": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    df.loc[5, "income"] = np.nan
    return df


@pytest.fixture(scope="module")
def signature(train: pd.DataFrame) -> Signature:
    return infer_signature(train.head(10), training_data=train)


def spec(sig: Signature, name: str) -> ColumnSpec:
    return next(c for c in sig.inputs if c.name == name)


def problems(result) -> list[tuple[int | None, str]]:
    return [(e["row"], e["column"]) for e in result.errors]


# --- inference ---------------------------------------------------------------------------


def test_columns_order_and_dtypes_come_from_the_example(train: pd.DataFrame) -> None:
    example = train[["vip", "city", "age"]].head(5)
    sig = infer_signature(example, training_data=train[["age", "city", "vip"]])
    assert sig.columns == ["vip", "city", "age"]
    assert [c.dtype for c in sig.inputs] == [str(example[c].dtype) for c in example.columns]
    assert [c.kind for c in sig.inputs] == ["boolean", "categorical", "integer"]


def test_categories_nullability_and_ranges_come_from_training_data(
    signature: Signature, train: pd.DataFrame
) -> None:
    city = spec(signature, "city")
    assert city.categories == ("oslo", "paris", "rome")
    income = spec(signature, "income")
    assert income.nullable  # training has a NaN, the 10-row example does not
    assert income.min == pytest.approx(train["income"].min())
    assert income.max == pytest.approx(train["income"].max())
    age = spec(signature, "age")
    assert (age.min, age.max) == (train["age"].min(), train["age"].max())
    assert not age.nullable
    assert spec(signature, "signup").max == train["signup"].max().isoformat()


def test_training_profile_gives_the_same_facts(train: pd.DataFrame, signature: Signature) -> None:
    from_profile = infer_signature(train.head(10), training_profile=profile_frame(train))
    for a, b in zip(from_profile.inputs, signature.inputs, strict=True):
        assert (a.name, a.kind, a.nullable, a.categories) == (
            b.name,
            b.kind,
            b.nullable,
            b.categories,
        )
        if a.kind in ("numeric", "integer"):
            assert a.min == pytest.approx(b.min)
            assert a.max == pytest.approx(b.max)


def test_without_training_data_the_example_decides(train: pd.DataFrame) -> None:
    example = train.head(3)
    sig = infer_signature(example)
    assert spec(sig, "city").categories == tuple(sorted(set(example["city"])))
    assert not spec(sig, "income").nullable
    assert spec(sig, "age").max == example["age"].max()


def test_outputs_from_the_model(train: pd.DataFrame) -> None:
    X = train[["age"]]
    clf = LogisticRegression().fit(X, train["vip"].map({True: "yes", False: "no"}))
    sig = infer_signature(X.head(), model=clf)
    assert sig.outputs == {"kind": "label", "classes": ["no", "yes"], "proba": True}
    reg = LinearRegression().fit(X, train["age"] * 2.0)
    assert infer_signature(X.head(), model=reg).outputs == {"kind": "value", "proba": False}
    assert infer_signature(X.head()).outputs == {}


def test_round_trips_through_json(signature: Signature) -> None:
    data = json.loads(json.dumps(signature.to_dict()))
    assert Signature.from_dict(data) == signature
    assert data["inputs"][0]["name"] == "age"


def test_from_dict_rejects_malformed_data() -> None:
    with pytest.raises(InvalidInput, match="inputs"):
        Signature.from_dict({"columns": []})
    with pytest.raises(InvalidInput, match="kind"):
        Signature.from_dict(
            {"inputs": [{"name": "a", "dtype": "x", "kind": "blob", "nullable": False}]}
        )


def test_example_with_no_columns_or_no_rows_is_refused(train: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="no columns"):
        infer_signature(pd.DataFrame(index=range(3)))
    with pytest.raises(InvalidInput, match="no rows"):
        infer_signature(train.head(0))


def test_training_columns_that_differ_are_named(train: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as info:
        infer_signature(train.head(), training_data=train.drop(columns=["city"]).assign(y=1))
    message = str(info.value)
    assert "'city'" in message and "'y'" in message
    with pytest.raises(InvalidInput, match="'city'"):
        infer_signature(train.head(), training_profile=profile_frame(train.drop(columns="city")))


def test_example_of_another_kind_than_training_is_refused(train: pd.DataFrame) -> None:
    example = train.head().assign(age=["a", "b", "c", "d", "e"])
    with pytest.raises(InvalidInput, match="'age'"):
        infer_signature(example, training_data=train)


def test_all_missing_example_column_takes_kind_from_training(train: pd.DataFrame) -> None:
    example = train.head(3).assign(income=[None, None, None])
    sig = infer_signature(example, training_data=train)
    assert spec(sig, "income").kind == "numeric"
    assert validate(sig, train.head(20)).ok


# --- validation --------------------------------------------------------------------------


def test_the_example_and_training_data_validate(signature: Signature, train: pd.DataFrame) -> None:
    result = validate(signature, train)
    assert result.ok, result.errors
    assert result.errors == [] and result.n_errors == 0
    assert list(result.frame.columns) == signature.columns


def test_records_are_accepted_and_coerced(signature: Signature, train: pd.DataFrame) -> None:
    records = [
        {"signup": "2024-01-02T03:00:00", "vip": True, "city": "rome", "income": 51, "age": 40},
        {"age": 41.0, "income": None, "city": "oslo", "vip": False, "signup": "2024-01-03"},
    ]
    result = validate(signature, records)
    assert result.ok, result.errors
    frame = result.frame
    assert list(frame.columns) == signature.columns
    assert frame["age"].dtype == np.int64
    assert frame["income"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(frame["signup"])
    assert frame["vip"].dtype == bool
    assert np.isnan(frame["income"].iloc[1])


def test_every_bad_field_of_every_row_is_reported(signature: Signature) -> None:
    records = [
        {"age": 30, "income": 50.0, "city": "oslo", "vip": True, "signup": "2024-01-05"},
        {"age": "thirty", "income": "a lot", "city": "lima", "vip": "yes", "signup": "soon"},
        {"age": 2.5, "income": 1.0, "city": None, "vip": None, "signup": None},
    ]
    result = validate(signature, records)
    assert not result.ok
    assert problems(result) == [
        (1, "age"),
        (1, "income"),
        (1, "city"),
        (1, "vip"),
        (1, "signup"),
        (2, "age"),
        (2, "city"),
        (2, "vip"),
        (2, "signup"),
    ]
    by_field = {(e["row"], e["column"]): e["problem"] for e in result.errors}
    assert "expected a number" in by_field[(1, "income")] and "'a lot'" in by_field[(1, "income")]
    assert "unseen category 'lima'" in by_field[(1, "city")]
    assert "expected an integer" in by_field[(2, "age")]
    assert "missing value" in by_field[(2, "city")]
    assert json.dumps(result.errors)  # plain data, ready for a 422 body


def test_missing_and_extra_columns(signature: Signature, train: pd.DataFrame) -> None:
    data = train.head(3).drop(columns=["city"]).assign(target=1)
    result = validate(signature, data)
    assert problems(result) == [(None, "city"), (None, "target")]
    assert "missing column" in result.errors[0]["problem"]
    assert "unexpected column" in result.errors[1]["problem"]
    assert "city" not in result.frame.columns and "target" not in result.frame.columns


def test_unseen_categories_can_be_flagged_instead(signature: Signature) -> None:
    record = {"age": 30, "income": 50.0, "city": "lima", "vip": True, "signup": "2024-01-05"}
    assert not validate(signature, [record]).ok
    flagged = validate(signature, [record], unseen_categories="flag")
    assert flagged.ok
    assert [(w["row"], w["column"]) for w in flagged.warnings] == [(0, "city")]
    with pytest.raises(InvalidInput, match="unseen_categories"):
        validate(signature, [record], unseen_categories="ignore")


def test_out_of_range_values_are_warnings_not_errors(signature: Signature) -> None:
    record = {"age": 150, "income": -1e6, "city": "oslo", "vip": False, "signup": "2031-01-01"}
    result = validate(signature, [record])
    assert result.ok
    assert {w["column"] for w in result.warnings} == {"age", "income", "signup"}
    assert any("above the largest seen" in w["problem"] for w in result.warnings)


def test_booleans_are_not_numbers(signature: Signature) -> None:
    record = {"age": True, "income": 1.0, "city": "oslo", "vip": 1, "signup": "2024-01-05"}
    result = validate(signature, [record])
    assert problems(result) == [(0, "age")]  # vip=1 is accepted as true


def test_errors_are_capped_and_counted(signature: Signature, train: pd.DataFrame) -> None:
    bad = train.astype({"age": object}).assign(age="x", city="nowhere")
    result = validate(signature, bad)
    assert len(result.errors) == MAX_ERRORS
    assert result.n_errors == 2 * len(train)
    assert [e["row"] for e in result.errors[:4]] == [0, 0, 1, 1]
    with pytest.raises(InvalidInput, match="row 0"):
        result.raise_for_errors()


def test_non_table_input_is_invalid(signature: Signature) -> None:
    with pytest.raises(InvalidInput, match="record 1"):
        validate(signature, [{"age": 1}, 5])


def test_pandas_categorical_columns_keep_their_categories(train: pd.DataFrame) -> None:
    df = train[["city"]].astype("category")
    sig = infer_signature(df.head(), training_data=df)
    result = validate(sig, [{"city": "rome"}, {"city": "oslo"}])
    assert result.ok
    assert list(result.frame["city"].cat.categories) == ["oslo", "paris", "rome"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "n": st.integers(-5, 5),
                "x": st.floats(-1e6, 1e6, allow_nan=False),
                "c": st.sampled_from(["a", "b", "c"]),
            }
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_example_validates_against_its_own_signature(rows) -> None:
    frame = pd.DataFrame(rows)
    sig = infer_signature(frame)
    assert validate(sig, frame).ok
    assert validate(sig, rows).ok
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig


def test_validation_speed_10k_rows_30_columns() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    makers = [
        lambda: rng.normal(size=n),
        lambda: rng.integers(0, 100, n),
        lambda: rng.choice(["a", "b", "c", "d"], n),
    ]
    df = pd.DataFrame({f"c{j}": makers[j % 3]() for j in range(30)})
    sig = infer_signature(df.head(50), training_data=df)
    records = df.to_dict("records")
    timings = {}
    for name, data in (("DataFrame", df), ("records", records)):
        start = time.perf_counter()
        result = validate(sig, data)
        timings[name] = time.perf_counter() - start
        assert result.ok
    print(
        f"\nvalidate 10,000 rows x 30 columns: DataFrame {timings['DataFrame'] * 1e3:.1f} ms, "
        f"records {timings['records'] * 1e3:.1f} ms (incl. building the frame)"
    )
