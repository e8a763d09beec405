"""Outputs are stored in a safe format chosen by type; pickle only for trusted steps."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

from loopml.errors import InvalidInput
from loopml.pipelines import PipelineFailed, pipeline, serializers, step


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


def roundtrip(value, trusted: bool = False):
    encoded = serializers.encode(value, step="s", trusted=trusted)
    return encoded.kind, serializers.decode(encoded.data, encoded.kind, trusted=trusted)


def test_frame_and_series_roundtrip_through_parquet() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": pd.Categorical(["u", "v"])})
    kind, back = roundtrip(frame)
    assert kind == "frame"
    pd.testing.assert_frame_equal(back, frame)
    for series in (pd.Series([1.5, 2.5], name="s"), pd.Series([1, 2])):
        kind, back = roundtrip(series)
        assert kind == "series"
        pd.testing.assert_series_equal(back, series)


def test_arrays_roundtrip_without_pickle() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    kind, back = roundtrip(array)
    assert kind == "array" and back.dtype == np.float32
    np.testing.assert_array_equal(back, array)
    with pytest.raises(InvalidInput, match="cannot store it safely"):
        serializers.encode(np.array([Opaque(1)], dtype=object), step="s")


@pytest.mark.parametrize(
    "value", [None, True, 3, 2.5, "text", [1, "a", None], {"k": [1, {"n": 2.0}]}, (1, 2), {}]
)
def test_json_values_roundtrip(value) -> None:
    kind, back = roundtrip(value)
    assert kind == "json" and back == value and type(back) is type(value)


def test_numpy_scalars_are_json() -> None:
    assert roundtrip(np.int64(4)) == ("json", 4)


def test_estimators_roundtrip_with_skops_and_same_bytes_each_time() -> None:
    X = np.random.RandomState(0).rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    kind, back = roundtrip(forest)
    assert kind == "estimator"
    np.testing.assert_array_equal(back.predict(X), forest.predict(X))
    again = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    digest = hashlib.sha256
    assert digest(serializers.encode(forest, step="s").data).hexdigest() == (
        digest(serializers.encode(again, step="s").data).hexdigest()
    )
    kind, scaler = roundtrip(StandardScaler().fit(X))  # no predict: still an estimator
    assert kind == "estimator" and scaler.mean_.shape == (3,)


def test_arbitrary_object_is_refused_naming_step_and_type() -> None:
    with pytest.raises(InvalidInput) as info:
        serializers.encode(Opaque(1), step="train")
    message = str(info.value)
    assert "step 'train' returned a" in message and "Opaque" in message
    assert "trusted=True" in message


def test_pickle_only_for_trusted_steps() -> None:
    kind, back = roundtrip(Opaque(5), trusted=True)
    assert kind == "pickle" and back.value == 5
    data = serializers.encode(Opaque(5), step="s", trusted=True).data
    with pytest.raises(InvalidInput, match="pickle"):
        serializers.decode(data, "pickle", trusted=False)


def test_non_serializable_output_fails_the_pipeline_naming_step_and_type() -> None:
    @step
    def train() -> Opaque:
        return Opaque(1)

    @pipeline
    def p():
        return train()

    with pytest.raises(PipelineFailed, match="step 'train'") as info:
        p.run()
    assert isinstance(info.value.__cause__, InvalidInput)
    assert "Opaque" in str(info.value)


def test_trusted_step_output_is_pickled_and_cached() -> None:
    made = []

    @step(trusted=True)
    def train() -> Opaque:
        made.append(1)
        return Opaque(7)

    @step(trusted=True)
    def read(model: Opaque) -> int:
        return model.value

    @pipeline
    def p():
        model = train()
        return {"model": model, "value": read(model)}

    first = p.run()
    assert first.output["value"] == 7
    assert first.step("train").output_paths == ["outputs/0.pkl"]
    second = p.run()
    assert second.output["model"].value == 7 and len(made) == 1
