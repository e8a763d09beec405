"""The reference stored at registration: profile of features, target and predictions; sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

import loopml
from loopml.errors import InvalidInput, NotFound
from loopml.models.reference import PREDICTION, PROBA_PREFIX, load_reference


def _iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    return frame


def test_registration_stores_profile_and_bounded_sample():
    frame = _iris()
    X = frame.drop(columns="target")
    model = LogisticRegression(max_iter=1000).fit(X, frame["target"])
    mv = loopml.register_model(model, "iris", input_example=X.head(5), training_data=frame,
                               target="target", reference_sample_rows=100)
    ref = load_reference("iris", mv.version)
    assert ref.features == list(X.columns) and ref.target == "target"
    assert ref.classes == [0, 1, 2] and ref.rows == 150
    cols = ref.profile["columns"]
    assert set(cols) == {*X.columns, "target", PREDICTION, *ref.proba_columns}
    assert cols["sepal_length"]["min"] == X["sepal_length"].min()
    assert sum(cols["sepal_length"]["bin_counts"]) == 150
    assert len(ref.sample) == 100
    assert list(ref.sample.columns) == [*X.columns, "target", PREDICTION, *ref.proba_columns]
    sample_X = ref.sample[list(X.columns)]
    np.testing.assert_allclose(ref.sample[f"{PROBA_PREFIX}2"], model.predict_proba(sample_X)[:, 2])
    np.testing.assert_array_equal(ref.sample[PREDICTION], model.predict(sample_X))


def test_target_comes_from_loopml_yaml_and_reference_data_wins(tmp_path):
    (tmp_path / "loopml.yaml").write_text("name: flowers\ntask: multiclass\ntarget: target\n")
    frame = _iris()
    X = frame.drop(columns="target")
    model = LogisticRegression(max_iter=1000).fit(X, frame["target"])
    held_out = frame.sample(40, random_state=0)
    mv = loopml.register_model(model, "iris", input_example=X.head(5), training_data=frame,
                               reference_data=held_out)
    ref = load_reference("iris", mv.version)
    assert ref.target == "target" and ref.rows == 40


def test_regressor_without_target_and_without_training_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    model = LinearRegression().fit(X, X["a"] * 2)
    mv = loopml.register_model(model, "lin", input_example=X.head(5), training_data=X)
    ref = load_reference("lin", mv.version)
    assert ref.target is None and ref.classes is None
    assert set(ref.profile["columns"]) == {"a", "b", PREDICTION}
    bare = loopml.register_model(model, "lin", input_example=X.head(5))
    with pytest.raises(NotFound, match="training_data"):
        load_reference("lin", bare.version)


def test_bad_reference_arguments_name_the_problem():
    frame = _iris()
    X = frame.drop(columns="target")
    model = LogisticRegression(max_iter=1000).fit(X, frame["target"])
    with pytest.raises(InvalidInput, match="target"):
        loopml.register_model(model, "iris", input_example=X.head(5), training_data=frame,
                              target="species")
    with pytest.raises(InvalidInput, match="reference_sample_rows"):
        loopml.register_model(model, "iris", input_example=X.head(5), training_data=frame,
                              reference_sample_rows=-5)
    with pytest.raises(InvalidInput, match="petal_width"):
        loopml.register_model(model, "iris", input_example=X.head(5), training_data=frame,
                              reference_data=frame.drop(columns="petal_width"))
    with pytest.raises(NotFound):  # none of the refused registrations left a version behind
        loopml.get_model_version("iris")
