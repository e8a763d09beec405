"""Datasets of a run: fingerprint, schema and profile, linked with a name and a role."""

from __future__ import annotations

import pandas as pd
import pytest

import loopml as ml
from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import DatasetLink
from loopml.tracking import state


def frame(price_of_b: float = 2.5) -> pd.DataFrame:
    """Built afresh on each call: equal data, distinct objects."""
    return pd.DataFrame(
        {
            "age": [23, 35, 41, 52, 29],
            "price": [1.0, price_of_b, 3.25, 4.0, 0.5],
            "city": ["paris", "lyon", "paris", "nice", "lyon"],
        }
    )


def test_same_data_twice_gives_one_fingerprint_and_one_row(any_store, count_rows) -> None:
    with ml.start_run() as first:
        a = first.log_dataset(frame(), name="customers", role="train")
    with ml.start_run() as second:
        b = second.log_dataset(frame(), name="customers", role="train")
    assert a.fingerprint == b.fingerprint
    assert count_rows("datasets") == 1
    assert count_rows("run_datasets") == 2


def test_changed_data_gives_another_fingerprint(count_rows) -> None:
    with ml.start_run() as run:
        a = run.log_dataset(frame(), name="customers", role="train")
        b = run.log_dataset(frame(price_of_b=2.75), name="customers", role="test")
        c = run.log_dataset(frame().rename(columns={"city": "town"}), name="renamed")
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3
    assert count_rows("datasets") == 3


def test_run_lists_its_datasets_with_name_and_role() -> None:
    with ml.start_run() as run:
        train = run.log_dataset(frame(), name="customers", role="train")
        test = ml.log_dataset(frame(price_of_b=9.0), name="customers", role="test")
    links = sorted(ml.get_run(run.run_id).datasets, key=lambda d: d.role)
    assert links == [
        DatasetLink(name="customers", role="test", fingerprint=test.fingerprint),
        DatasetLink(name="customers", role="train", fingerprint=train.fingerprint),
    ]


def test_schema_and_profile_are_retrievable_by_fingerprint(any_store) -> None:
    with ml.start_run() as run:
        logged = run.log_dataset(frame(), name="customers")
    stored = state.get_store().get_dataset(logged.fingerprint)
    assert (stored.n_rows, stored.n_columns) == (5, 3)
    columns = {c["name"]: c for c in stored.schema["columns"]}
    assert set(columns) == {"age", "price", "city"}
    assert columns["age"]["kind"] == "integer"
    assert columns["age"]["min"] == 23 and columns["age"]["max"] == 52
    assert sorted(columns["city"]["categories"]) == ["lyon", "nice", "paris"]
    profile = stored.profile["columns"]
    assert profile["price"]["mean"] == pytest.approx(frame()["price"].mean())
    assert profile["city"]["frequencies"] == {"paris": 2, "lyon": 2, "nice": 1}
    assert stored == logged


def test_unknown_fingerprint_is_not_found() -> None:
    with pytest.raises(NotFound):
        state.get_store().get_dataset("0" * 64)


@pytest.mark.parametrize(("name", "role"), [("bad*name", "train"), ("ok", "a\nb"), ("", "train")])
def test_bad_dataset_name_or_role_is_refused(name, role, count_rows) -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="dataset"):
        run.log_dataset(frame(), name=name, role=role)
    assert ml.get_run(run.run_id).datasets == []
    assert count_rows("datasets") == 0
