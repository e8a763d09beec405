"""ONNX export: the file is kept only when onnxruntime reproduces the model on the example."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.errors import InvalidInput, LoopmlError
from loopml.models.onnx_export import (
    OnnxConversionError,
    OnnxExport,
    OnnxMismatchError,
    export_onnx,
    onnx_feeds,
)

ort = pytest.importorskip("onnxruntime")


class MajorityVote(ClassifierMixin, BaseEstimator):
    """A user's own classifier: skl2onnx has no converter for it."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):
        return np.tile([1.0, 0.0], (len(X), 1))


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "rome", "lima", "kyiv"], n),
            "x": rng.normal(size=n),
            "visits": rng.integers(0, 20, n),
        }
    )
    y = ((df["city"].isin(["oslo", "lima"])) ^ (df["x"] > 0)).astype(int).to_numpy()
    return df, y


def labels_from_file(export: OnnxExport, example: pd.DataFrame) -> np.ndarray:
    session = ort.InferenceSession(str(export.path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, onnx_feeds(example, export.inputs))
    return np.asarray(outputs[names.index("label")]).ravel()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]),
        lambda: LogisticRegression(solver="newton-cholesky", max_iter=1000),
        lambda: RandomForestClassifier(n_estimators=25, random_state=0),
    ],
    ids=["scaled-logistic", "logistic", "random-forest"],
)
def test_numeric_classifiers_export_and_match(make, cancer, tmp_path: Path) -> None:
    X, y = cancer
    model = make().fit(X, y)
    example = X.sample(64, random_state=1)
    export = export_onnx(model, example, tmp_path / "out" / "model.onnx")
    assert export.path.exists()
    assert export.size_bytes == export.path.stat().st_size > 0
    assert export.max_abs_diff <= 1e-4
    assert export.opset >= 9
    assert export.inputs == (("X", "float"),)
    np.testing.assert_array_equal(labels_from_file(export, example), model.predict(example))


def test_column_transformer_with_strings_exports_per_column_inputs(mixed, tmp_path: Path) -> None:
    df, y = mixed
    encode = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("lr", LogisticRegression())]).fit(df, y)
    example = df.head(40)
    export = export_onnx(model, example, tmp_path / "mixed.onnx")
    assert export.inputs == (("city", "string"), ("x", "float"), ("visits", "int64"))
    session = ort.InferenceSession(str(export.path), providers=["CPUExecutionProvider"])
    assert [i.type for i in session.get_inputs()] == [
        "tensor(string)",
        "tensor(float)",
        "tensor(int64)",
    ]
    np.testing.assert_array_equal(labels_from_file(export, example), model.predict(example))


def test_regressor_is_compared_on_predict(cancer, tmp_path: Path) -> None:
    X, y = cancer
    columns = ["mean radius", "mean texture", "mean smoothness"]
    model = LinearRegression().fit(X[columns], y)
    export = export_onnx(model, X[columns].head(30), tmp_path / "reg.onnx")
    assert export.path.exists()
    assert export.max_abs_diff < 1e-4


def test_mismatch_beyond_tolerance_removes_the_file(cancer, tmp_path: Path) -> None:
    X, y = cancer
    model = LogisticRegression(solver="newton-cholesky", max_iter=1000).fit(X, y)
    target = tmp_path / "strict.onnx"
    # float32 inference cannot be bit-identical to float64 on every probability
    with pytest.raises(OnnxMismatchError) as info:
        export_onnx(model, X, target, rtol=0.0, atol=0.0)
    assert "differ" in str(info.value) and "removed" in str(info.value)
    assert not target.exists()


def test_unconvertible_model_names_type_and_reason(cancer, tmp_path: Path) -> None:
    X, y = cancer
    model = MajorityVote().fit(X, y)
    target = tmp_path / "custom.onnx"
    with pytest.raises(OnnxConversionError) as info:
        export_onnx(model, X.head(5), target)
    message = str(info.value)
    assert "MajorityVote" in message and "skl2onnx" in message
    assert "shape calculator" in message  # skl2onnx's own reason
    assert isinstance(info.value, LoopmlError)
    assert not target.exists()


def test_example_without_rows_or_model_without_predict(cancer, tmp_path: Path) -> None:
    X, y = cancer
    with pytest.raises(InvalidInput, match="no rows"):
        export_onnx(LinearRegression().fit(X, y), X.head(0), tmp_path / "m.onnx")
    with pytest.raises(InvalidInput, match="predict"):
        export_onnx(StandardScaler().fit(X), X.head(3), tmp_path / "m.onnx")
