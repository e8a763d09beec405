"""One seed per pipeline run; each step derives its own: same seed, same artifacts."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from loopml.pipelines import pipeline, step
from loopml.pipelines.executor import derive_seed


@step(outputs=2)
def make_data(rows: int) -> tuple[pd.DataFrame, pd.Series]:
    noise = np.random.rand(rows, 4)  # the global generator, seeded by the run
    frame = pd.DataFrame(noise, columns=["a", "b", "c", "d"])
    return frame, pd.Series((frame["a"] + frame["b"] > 1).astype(int), name="y")


@step
def fit(X: pd.DataFrame, y: pd.Series, seed: int) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=10, random_state=seed).fit(X, y)


@step
def predict(model: RandomForestClassifier, X: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


@pipeline
def forest(rows: int = 80):
    X, y = make_data(rows)
    model = fit(X, y)
    return {"model": model, "predictions": predict(model, X)}


def test_same_seed_gives_identical_predictions_and_digests() -> None:
    first = forest.run(seed=7, cache=False)
    second = forest.run(seed=7, cache=False)
    assert [s.status for s in second.steps] == ["executed"] * 3
    np.testing.assert_array_equal(first.output["predictions"], second.output["predictions"])
    assert [s.output_digests for s in first.steps] == [s.output_digests for s in second.steps]


def test_another_seed_gives_other_data() -> None:
    first = forest.run(seed=7, cache=False)
    other = forest.run(seed=8, cache=False)
    assert first.step("make_data").output_digests != other.step("make_data").output_digests


def test_step_seeds_are_derived_and_passed() -> None:
    seen: dict[str, int] = {}

    @step
    def a(seed: int) -> float:
        seen["a"] = seed
        return random.random()

    @step
    def b(seed: int) -> float:
        seen["b"] = seed
        return random.random()

    @pipeline
    def p():
        return [a(), b()]

    result = p.run(seed=3)
    assert seen == {"a": derive_seed(3, "a", 0), "b": derive_seed(3, "b", 0)}
    assert seen["a"] != seen["b"]
    assert result.step("a").seed == seen["a"]
    random.seed(seen["a"])
    assert result.output[0] == random.random()  # random was seeded with the step's seed


def test_explicit_seed_argument_wins() -> None:
    @step
    def a(seed: int = 0) -> int:
        return seed

    @pipeline
    def p():
        return a(seed=11)

    assert p.run(seed=3).output == 11
