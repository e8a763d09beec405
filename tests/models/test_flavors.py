"""Flavors turn models into bytes and back: identical predictions, and nothing untrusted runs."""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.errors import InvalidInput, LoopmlError
from loopml.models.flavors import (
    FLAVORS,
    ModelFileDamaged,
    TrustedPickleWarning,
    UntrustedTypeError,
    dump_model,
    load_model_bytes,
    untrusted_types,
)

TREE = "sklearn.tree._tree.Tree"


class DoubleFeatures(TransformerMixin, BaseEstimator):
    """A user's own transformer: skops does not trust it by default."""

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return np.asarray(X) * 2.0


class ConstantModel:
    """Not a scikit-learn estimator: only the pyfunc flavor can save it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X):
        return np.full(len(X), self.value)


class CreatesFileWhenUnpickled:
    """Unpickling this runs ``open(path, "w")``: the classic malicious pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {"city": rng.choice(["oslo", "rome", "lima"], 150), "x": rng.normal(size=150)}
    )
    y = ((df["city"] == "oslo") ^ (df["x"] > 0)).astype(int).to_numpy()
    return df, y


def round_trip(model, **load_kwargs):
    payload, flavor = dump_model(model)
    assert flavor == "sklearn"
    assert isinstance(payload, bytes)
    return load_model_bytes(payload, flavor, **load_kwargs)


def test_logistic_regression_round_trip_predicts_identically(xy) -> None:
    X, y = xy
    model = LogisticRegression().fit(X, y)
    loaded = round_trip(model)
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_scaled_pipeline_round_trip(xy) -> None:
    X, y = xy
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(X, y)
    loaded = round_trip(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_column_transformer_pipeline_on_categorical_frame(mixed) -> None:
    df, y = mixed
    encode = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("lr", LogisticRegression())]).fit(df, y)
    loaded = round_trip(model)
    np.testing.assert_array_equal(loaded.predict(df), model.predict(df))
    np.testing.assert_array_equal(loaded.predict_proba(df), model.predict_proba(df))


def test_random_forest_needs_tree_type_trusted_then_round_trips(xy) -> None:
    X, y = xy
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    payload, flavor = dump_model(model)
    assert untrusted_types(payload, flavor) == [TREE]
    with pytest.raises(UntrustedTypeError) as info:
        load_model_bytes(payload, flavor)
    assert TREE in str(info.value)
    assert info.value.types == [TREE]
    assert "trusted_types=" in str(info.value)
    loaded = load_model_bytes(payload, flavor, trusted_types=[TREE])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_custom_class_is_refused_by_name_until_trusted(xy) -> None:
    X, y = xy
    model = Pipeline([("double", DoubleFeatures()), ("lr", LogisticRegression())]).fit(X, y)
    payload, flavor = dump_model(model)
    custom = f"{DoubleFeatures.__module__}.{DoubleFeatures.__qualname__}"
    with pytest.raises(UntrustedTypeError) as info:
        load_model_bytes(payload, flavor)
    assert custom in str(info.value)
    assert info.value.types == [custom]
    loaded = load_model_bytes(payload, flavor, trusted_types=[custom])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pickle_fed_as_sklearn_payload_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    evil = pickle.dumps(CreatesFileWhenUnpickled(str(marker)))
    with pytest.raises(ModelFileDamaged, match="damaged"):
        load_model_bytes(evil, "sklearn", trusted_types=["builtins.open"])
    assert not marker.exists()


def test_malicious_pickle_inside_a_skops_file_is_refused(xy, tmp_path: Path) -> None:
    """A skops archive whose numpy entry was swapped for a pickled object array."""
    X, y = xy
    payload, _ = dump_model(LogisticRegression().fit(X, y))
    marker = tmp_path / "pwned.txt"
    evil = np.empty(1, dtype=object)
    evil[0] = CreatesFileWhenUnpickled(str(marker))
    buffer = io.BytesIO()
    np.save(buffer, evil, allow_pickle=True)
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith(".npy"):
                data = buffer.getvalue()
            dst.writestr(item, data)
    with pytest.raises(ModelFileDamaged, match="allow_pickle=False"):
        load_model_bytes(tampered.getvalue(), "sklearn")
    assert not marker.exists()


def test_skops_file_naming_a_dangerous_function_is_refused_by_name(xy) -> None:
    X, y = xy
    payload, _ = dump_model(LogisticRegression().fit(X, y))
    with zipfile.ZipFile(io.BytesIO(payload)) as src:
        items = {i.filename: src.read(i.filename) for i in src.infolist()}
    schema = items["schema.json"].decode()
    schema = schema.replace('"LogisticRegression"', '"system"', 1)
    schema = schema.replace('"sklearn.linear_model._logistic"', '"os"', 1)
    items["schema.json"] = schema.encode()
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as dst:
        for name, data in items.items():
            dst.writestr(name, data)
    with pytest.raises(UntrustedTypeError, match=r"os\.system"):
        load_model_bytes(tampered.getvalue(), "sklearn")


@pytest.mark.parametrize("payload", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_corrupt_payload_says_the_file_is_damaged(payload: bytes) -> None:
    with pytest.raises(ModelFileDamaged, match="damaged") as info:
        load_model_bytes(payload, "sklearn")
    assert isinstance(info.value, LoopmlError)
    assert issubclass(UntrustedTypeError, LoopmlError)


def test_truncated_skops_payload_is_damaged(xy) -> None:
    X, y = xy
    payload, _ = dump_model(LogisticRegression().fit(X, y))
    with pytest.raises(ModelFileDamaged, match="damaged"):
        load_model_bytes(payload[: len(payload) // 2], "sklearn")


def test_object_without_predict_is_refused_naming_its_type() -> None:
    with pytest.raises(InvalidInput, match="StandardScaler"):
        dump_model(StandardScaler().fit(np.ones((3, 2))))
    with pytest.raises(InvalidInput, match=r"builtins\.dict"):
        dump_model({"weights": [1, 2]})


def test_unfitted_estimator_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        dump_model(LogisticRegression())


def test_unknown_flavor_lists_the_flavors(xy) -> None:
    X, y = xy
    for call in (
        lambda: dump_model(LinearRegression().fit(X, y), flavor="onnx"),
        lambda: load_model_bytes(b"x", "onnx"),
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        assert all(f in str(info.value) for f in FLAVORS)


def test_non_estimator_needs_trusted_pickle_to_save() -> None:
    with pytest.raises(InvalidInput) as info:
        dump_model(ConstantModel(3.0))
    message = str(info.value)
    assert "pickle" in message and "trusted_pickle=True" in message
    assert "ConstantModel" in message
    with pytest.raises(InvalidInput, match="trusted_pickle=True"):
        dump_model(LinearRegression(), flavor="pyfunc")


def test_sklearn_flavor_refuses_a_plain_object() -> None:
    with pytest.raises(InvalidInput, match="pyfunc"):
        dump_model(ConstantModel(1.0), flavor="sklearn")


def test_pyfunc_round_trip_warns_at_save_and_load() -> None:
    with pytest.warns(TrustedPickleWarning):
        payload, flavor = dump_model(ConstantModel(2.5), trusted_pickle=True)
    assert flavor == "pyfunc"
    with pytest.raises(InvalidInput, match="trusted_pickle=True"):
        load_model_bytes(payload, flavor)
    with pytest.warns(TrustedPickleWarning):
        model = load_model_bytes(payload, flavor, trusted_pickle=True)
    np.testing.assert_array_equal(model.predict([1, 2]), [2.5, 2.5])
    assert issubclass(TrustedPickleWarning, UserWarning)


def test_pyfunc_refusal_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    evil = pickle.dumps(CreatesFileWhenUnpickled(str(marker)))
    with pytest.raises(InvalidInput):
        load_model_bytes(evil, "pyfunc")
    assert not marker.exists()


def test_pyfunc_damaged_payload() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrustedPickleWarning)
        with pytest.raises(ModelFileDamaged, match="damaged"):
            load_model_bytes(b"\x80\x05garbage", "pyfunc", trusted_pickle=True)


def test_unpicklable_pyfunc_model_is_a_clear_error() -> None:
    class Local:
        def predict(self, X):
            return X

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrustedPickleWarning)
        with pytest.raises(InvalidInput, match="cannot pickle"):
            dump_model(Local(), trusted_pickle=True)


def test_trusted_types_as_a_bare_string_is_refused(xy) -> None:
    X, y = xy
    payload, flavor = dump_model(LogisticRegression().fit(X, y))
    with pytest.raises(InvalidInput, match="list"):
        load_model_bytes(payload, flavor, trusted_types=TREE)


def test_no_file_system_is_touched(xy, tmp_path: Path, monkeypatch) -> None:
    X, y = xy
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    payload, flavor = dump_model(LogisticRegression().fit(X, y))
    load_model_bytes(payload, flavor)
    assert set(os.listdir(tmp_path)) == before
