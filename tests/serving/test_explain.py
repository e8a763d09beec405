"""``POST /explain`` contributions: exact where the model allows it, always adding up."""

from __future__ import annotations

import json
import sys
import time
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from loopml.errors import InvalidInput
from loopml.serving.explain import Explainer, Explanation


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    return load_diabetes(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def scaled_lr(cancer) -> Pipeline:
    X, y = cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def shap_or_skip():
    pytest.importorskip("shap")
    from loopml.serving.explainers.tree import import_shap

    return import_shap()


def matrix(explanation: Explanation, what: str = "contributions") -> np.ndarray:
    """(instances, features, labels) from the per-instance dicts."""
    rows = getattr(explanation, what)
    labels = explanation.labels
    if labels is not None and len(labels) > 1:
        return np.array(
            [[[r[lab][f] for lab in labels] for f in explanation.features] for r in rows]
        )
    return np.array([[[r[f]] for f in explanation.features] for r in rows])


def totals(explanation: Explanation) -> np.ndarray:
    """baseline + sum of contributions, (instances, labels)."""
    return np.atleast_1d(explanation.baseline) + matrix(explanation).sum(axis=1)


# -- linear: exact, in decision-function space ---------------------------------------------


def test_binary_logistic_regression_adds_up_to_the_log_odds(cancer, scaled_lr):
    X, _ = cancer
    background = X.iloc[:100]
    explainer = Explainer(scaled_lr, background=background, features=list(X.columns))
    explanation = explainer.explain(X.iloc[100:140])

    assert (explanation.method, explanation.exact, explanation.output) == (
        "linear",
        True,
        "log_odds",
    )
    assert explanation.labels == ["1"]  # the positive class; contributions are flat dicts
    assert set(explanation.contributions[0]) == set(X.columns)
    decision = scaled_lr.decision_function(X.iloc[100:140])
    np.testing.assert_allclose(totals(explanation)[:, 0], decision, rtol=0, atol=1e-9)
    np.testing.assert_allclose(explanation.outputs, decision, rtol=0, atol=1e-12)
    # the baseline is the decision at the background mean (= its mean decision: it is linear)
    assert explanation.baseline == pytest.approx(
        scaled_lr.decision_function(background).mean(), abs=1e-9
    )


def test_scaled_pipeline_contributions_are_weight_times_scaled_distance_to_the_mean(
    cancer, scaled_lr
):
    X, _ = cancer
    background, rows = X.iloc[:100], X.iloc[200:205]
    explanation = Explainer(scaled_lr, background=background, features=list(X.columns)).explain(
        rows
    )
    scaler, lr = scaled_lr[0], scaled_lr[-1]
    z, z_background = scaler.transform(rows), scaler.transform(background)
    expected = lr.coef_[0] * (z - z_background.mean(axis=0))
    np.testing.assert_allclose(matrix(explanation)[:, :, 0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dataset", ["cancer_scaled", "iris"])
def test_linear_contributions_match_shap_linear_explainer(dataset, cancer, iris, scaled_lr):
    shap = shap_or_skip()
    if dataset == "iris":
        X, y = iris
        model = LogisticRegression(max_iter=1000).fit(X, y)
        final, transform = model, (lambda frame: frame.to_numpy())
    else:
        X, _ = cancer
        model, final, transform = scaled_lr, scaled_lr[-1], scaled_lr[0].transform
    background, rows = X.iloc[::6], X.iloc[1:20]  # <= 100 rows: neither side subsamples
    explanation = Explainer(model, background=background, features=list(X.columns)).explain(rows)

    reference = shap.LinearExplainer(final, transform(background))
    values = np.asarray(reference.shap_values(transform(rows)))
    values = values if values.ndim == 3 else values[:, :, None]
    np.testing.assert_allclose(matrix(explanation), values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        np.atleast_1d(explanation.baseline), np.atleast_1d(reference.expected_value), atol=1e-9
    )


def test_multiclass_logistic_regression_explains_each_class(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    explanation = Explainer(model, background=X, features=list(X.columns)).explain(X.iloc[::10])

    assert explanation.method == "linear" and explanation.output == "decision_function"
    assert explanation.labels == ["0", "1", "2"]
    assert len(explanation.baseline) == 3
    assert set(explanation.contributions[0]) == {"0", "1", "2"}
    assert set(explanation.contributions[0]["2"]) == set(X.columns)
    decision = model.decision_function(X.iloc[::10])
    np.testing.assert_allclose(totals(explanation), decision, rtol=0, atol=1e-9)


def test_ridge_explains_the_prediction(diabetes):
    X, y = diabetes
    model = Ridge().fit(X, y)
    explanation = Explainer(model, background=X, features=list(X.columns)).explain(X.iloc[:10])

    assert (explanation.method, explanation.output, explanation.labels) == (
        "linear",
        "prediction",
        None,
    )
    assert isinstance(explanation.baseline, float)
    np.testing.assert_allclose(totals(explanation)[:, 0], model.predict(X.iloc[:10]), atol=1e-9)


def test_a_missing_value_for_a_linear_model_names_the_column(cancer, scaled_lr):
    X, _ = cancer
    explainer = Explainer(scaled_lr, background=X.iloc[:50], features=list(X.columns))
    row = X.iloc[:1].copy()
    row["mean area"] = np.nan
    with pytest.raises(InvalidInput, match="mean area"):
        explainer.explain(row)


# -- trees: shap's Tree SHAP, checked against the model ------------------------------------


def test_random_forest_probability_via_tree_shap(cancer):
    shap_or_skip()
    X, y = cancer
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    background = X.iloc[::6]  # 95 rows: all of them are used
    explanation = Explainer(model, background=background, features=list(X.columns)).explain(
        X.iloc[:20]
    )

    assert (explanation.method, explanation.exact, explanation.output) == (
        "tree_shap",
        True,
        "probability",
    )
    assert explanation.labels == ["1"]
    proba = model.predict_proba(X.iloc[:20])[:, 1]
    np.testing.assert_allclose(totals(explanation)[:, 0], proba, rtol=0, atol=1e-6)
    if explanation.note is None:  # interventional: the baseline is the background's mean
        assert explanation.baseline == pytest.approx(
            model.predict_proba(background)[:, 1].mean(), abs=1e-9
        )


def test_gradient_boosting_regressor_via_tree_shap(diabetes):
    shap_or_skip()
    X, y = diabetes
    model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y)
    explanation = Explainer(model, background=X, features=list(X.columns), seed=1).explain(
        X.iloc[:30]
    )

    assert (explanation.method, explanation.output) == ("tree_shap", "prediction")
    # shap's tree arithmetic is good to ~1e-8 relative: 1e-6 on outputs of a few hundred
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.predict(X.iloc[:30]), rtol=1e-8, atol=1e-6
    )


@pytest.mark.parametrize("model", ["forest", "hist_boosting"])
def test_multiclass_trees_add_up_whichever_tree_shap_variant_is_used(model, iris):
    shap_or_skip()
    X, y = iris
    if model == "forest":
        estimator = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
        expected, output = estimator.predict_proba(X), "probability"
    else:
        estimator = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
        expected, output = estimator.decision_function(X), "decision_function"
    explanation = Explainer(estimator, background=X, features=list(X.columns)).explain(X)

    assert (explanation.method, explanation.output) == ("tree_shap", output)
    assert explanation.labels == ["0", "1", "2"]
    np.testing.assert_allclose(totals(explanation), expected, rtol=0, atol=1e-6)


def test_tree_values_that_do_not_add_up_fall_back_and_say_why(cancer, monkeypatch):
    shap = shap_or_skip()
    X, y = cancer
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    real = shap.TreeExplainer.shap_values
    monkeypatch.setattr(
        shap.TreeExplainer, "shap_values", lambda self, *a, **k: real(self, *a, **k) + 0.01
    )
    explainer = Explainer(model, background=X.iloc[:40], features=list(X.columns))
    explanation = explainer.explain(X.iloc[:2])

    assert explanation.method == "permutation"
    assert "tree_shap does not apply" in explanation.note
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.predict_proba(X.iloc[:2])[:, 1], atol=1e-9
    )


def test_without_shap_trees_are_explained_model_agnostically(cancer, monkeypatch):
    X, y = cancer
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap -> ImportError
    explanation = Explainer(model, background=X.iloc[:40], features=list(X.columns)).explain(
        X.iloc[:3]
    )

    assert (explanation.method, explanation.exact) == ("permutation", False)
    assert "shap is not installed" in explanation.note
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.predict_proba(X.iloc[:3])[:, 1], rtol=0, atol=1e-9
    )


# -- model-agnostic sampling ----------------------------------------------------------------


def test_knn_probabilities_add_up_exactly_and_carry_standard_errors(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), KNeighborsClassifier()).fit(X, y)
    background = X.iloc[::6]  # 95 rows, all used
    explainer = Explainer(model, background=background, features=list(X.columns))
    started = time.perf_counter()
    explanation = explainer.explain(X.iloc[[7]])
    elapsed = time.perf_counter() - started

    assert (explanation.method, explanation.exact, explanation.output) == (
        "permutation",
        False,
        "probability",
    )
    assert explanation.baseline == pytest.approx(
        model.predict_proba(background)[:, 1].mean(), abs=1e-12
    )
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.predict_proba(X.iloc[[7]])[:, 1], rtol=0, atol=1e-9
    )
    errors = matrix(explanation, "standard_errors")
    assert np.all(errors >= 0) and np.all(np.isfinite(errors))
    assert elapsed < 2.0  # a sanity bound (30 features, ~12k model rows), not a benchmark


def test_svc_without_probabilities_explains_its_decision_function(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), SVC()).fit(X, y)
    explanation = Explainer(model, background=X.iloc[:60], features=list(X.columns)).explain(
        X.iloc[100:103]
    )

    assert (explanation.method, explanation.output) == ("permutation", "decision_function")
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.decision_function(X.iloc[100:103]), rtol=0, atol=1e-9
    )


class WeightedSum:
    """f(x) = 2 x0 + 3 x1: its Shapley values are known exactly."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return 2 * frame["x0"].to_numpy() + 3 * frame["x1"].to_numpy()


def independent_frame(rows: int, columns: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"x{j}" for j in range(columns)])


def test_sampling_recovers_known_linear_contributions_with_30_features():
    background, rows = independent_frame(100, 30, 0), independent_frame(3, 30, 1)
    explainer = Explainer(WeightedSum(), background=background, features=list(background.columns))
    explanation = explainer.explain(rows)

    assert explanation.method == "permutation" and explanation.output == "prediction"
    contributions = matrix(explanation)[:, :, 0]
    expected = np.zeros_like(contributions)
    expected[:, 0] = 2 * (rows["x0"] - background["x0"].mean())
    expected[:, 1] = 3 * (rows["x1"] - background["x1"].mean())
    np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)


def test_a_wide_frame_cuts_the_background_to_the_budget_and_says_so():
    background, rows = independent_frame(100, 60, 7), independent_frame(2, 60, 8)
    explanation = Explainer(
        WeightedSum(), background=background, features=list(background.columns), max_evals=1000
    ).explain(rows)

    assert "background cut to 10 rows" in explanation.note
    # the baseline is the mean over the rows actually used, and the sum still adds up to it
    assert explanation.baseline == pytest.approx(
        WeightedSum().predict(background.iloc[:10]).mean(), abs=1e-12
    )
    np.testing.assert_allclose(
        totals(explanation)[:, 0], WeightedSum().predict(rows), rtol=0, atol=1e-9
    )


class Interactions:
    """Non-additive: interactions of two and three features plus a curve."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame.to_numpy()
        return x[:, 0] * x[:, 1] + np.sin(x[:, 2]) + x[:, 3] * x[:, 4] * x[:, 5] + x[:, 6]


def brute_force_shapley(model, row: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values over every subset of features (the definition)."""
    p = row.shape[1]

    def value(subset: tuple[int, ...]) -> float:
        mixed = background.copy()
        for j in subset:
            mixed.iloc[:, j] = row.iloc[0, j]
        return float(model.predict(mixed).mean())

    phi = np.zeros(p)
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for size in range(p):
            weight = factorial(size) * factorial(p - size - 1) / factorial(p)
            for subset in combinations(others, size):
                phi[j] += weight * (value((*subset, j)) - value(subset))
    return phi


def test_few_features_are_enumerated_exactly():
    background, row = independent_frame(30, 7, 2), independent_frame(1, 7, 3)
    explanation = Explainer(
        Interactions(), background=background, features=list(background.columns)
    ).explain(row)

    assert (explanation.method, explanation.exact) == ("exact_shapley", True)
    assert explanation.standard_errors is None
    expected = brute_force_shapley(Interactions(), row, background)
    np.testing.assert_allclose(matrix(explanation)[0, :, 0], expected, rtol=0, atol=1e-12)


def test_permutation_sampling_estimates_the_exact_values_within_its_errors():
    background, row = independent_frame(30, 7, 2), independent_frame(1, 7, 3)
    explanation = Explainer(
        Interactions(),
        background=background,
        features=list(background.columns),
        max_evals=1000,  # too few to enumerate: sampled
    ).explain(row)

    assert (explanation.method, explanation.exact) == ("permutation", False)
    estimate = matrix(explanation)[0, :, 0]
    errors = matrix(explanation, "standard_errors")[0, :, 0]
    expected = brute_force_shapley(Interactions(), row, background)
    assert np.all(np.abs(estimate - expected) <= 4 * errors + 1e-9)
    assert estimate.sum() == pytest.approx(expected.sum(), abs=1e-12)  # the sum is exact


def test_sampling_is_deterministic_for_a_seed_and_independent_of_batch_position():
    background, rows = independent_frame(50, 12, 4), independent_frame(3, 12, 5)

    def explain(seed: int, frame: pd.DataFrame) -> np.ndarray:
        explainer = Explainer(
            Interactions(), background=background, features=list(background.columns), seed=seed
        )
        return matrix(explainer.explain(frame))

    first = explain(0, rows)
    np.testing.assert_array_equal(first, explain(0, rows))
    np.testing.assert_array_equal(first[2], explain(0, rows.iloc[[2]])[0])
    assert not np.allclose(first, explain(1, rows))


def test_string_columns_through_a_one_hot_pipeline():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["Paris", "Lyon", "Nice"], size=300),
            "age": rng.integers(18, 80, size=300),
            "income": rng.normal(50, 15, size=300),
        }
    )
    label = (frame["city"].eq("Paris") & (frame["income"] > 45)).astype(int)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])],
                    remainder=StandardScaler(),
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, label)
    explainer = Explainer(model, background=frame, features=["city", "age", "income"])
    rows = frame.iloc[:5]
    explanation = explainer.explain(rows)

    assert explanation.method == "exact_shapley"  # 3 features: enumerated, model-agnostic
    assert explanation.output == "probability"
    np.testing.assert_allclose(
        totals(explanation)[:, 0], model.predict_proba(rows)[:, 1], rtol=0, atol=1e-9
    )
    paris = rows.index[rows["city"] == "Paris"][0]
    assert explanation.contributions[list(rows.index).index(paris)]["city"] > 0


def test_a_plain_function_is_a_model():
    background = independent_frame(40, 3, 6)
    explanation = Explainer(
        lambda frame: frame["x0"] ** 2, background=background, features=["x0", "x1", "x2"]
    ).explain(background.iloc[:2])

    assert explanation.output == "prediction"
    contributions = matrix(explanation)[:, :, 0]
    np.testing.assert_allclose(contributions[:, 1:], 0.0, atol=1e-12)
    np.testing.assert_allclose(
        contributions[:, 0], background["x0"][:2] ** 2 - (background["x0"] ** 2).mean()
    )


def test_multiclass_knn_explains_each_class_probability(iris):
    X, y = iris
    model = KNeighborsClassifier().fit(X, y)
    explanation = Explainer(model, background=X, features=list(X.columns)).explain(X.iloc[:4])

    assert explanation.labels == ["0", "1", "2"] and explanation.output == "probability"
    np.testing.assert_allclose(totals(explanation), model.predict_proba(X.iloc[:4]), atol=1e-9)


def test_forcing_the_sampling_method_explains_probabilities_of_a_linear_model(cancer, scaled_lr):
    X, _ = cancer
    explainer = Explainer(
        scaled_lr, background=X.iloc[:50], features=list(X.columns), method="sampling"
    )
    assert (explainer.method, explainer.output) == ("permutation", "probability")
    with pytest.raises(InvalidInput, match="linear"):
        Explainer(
            KNeighborsClassifier().fit(X, cancer[1]),
            background=X.iloc[:50],
            features=list(X.columns),
            method="linear",
        )


def test_a_registry_loaded_model_is_explained_as_its_estimator(cancer, scaled_lr):
    from loopml.models.loaded import LoadedModel
    from loopml.store.entities import ModelVersion

    X, _ = cancer
    version = ModelVersion("cancer", 3, 0, "sklearn", "0" * 64, 1)
    explanation = Explainer(
        LoadedModel(scaled_lr, version), background=X.iloc[:50], features=list(X.columns)
    ).explain(X.iloc[:2])
    assert explanation.method == "linear"
    np.testing.assert_allclose(
        totals(explanation)[:, 0], scaled_lr.decision_function(X.iloc[:2]), atol=1e-9
    )


# -- the response and bad input -------------------------------------------------------------


def test_to_dict_is_plain_json(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    explanation = Explainer(model, background=X, features=list(X.columns)).explain(X.iloc[:2])
    payload = json.loads(json.dumps(explanation.to_dict(), allow_nan=False))

    assert payload["method"] == "linear"
    assert payload["features"] == list(X.columns)
    assert payload["contributions"][1]["2"]["petal width (cm)"] == pytest.approx(
        explanation.contributions[1]["2"]["petal width (cm)"]
    )
    assert payload["standard_errors"] is None


@pytest.fixture(scope="module")
def small_explainer(cancer, scaled_lr) -> Explainer:
    X, _ = cancer
    return Explainer(scaled_lr, background=X.iloc[:50], features=list(X.columns))


def test_a_missing_column_is_named(cancer, small_explainer):
    X, _ = cancer
    with pytest.raises(InvalidInput, match="'mean radius'"):
        small_explainer.explain(X.iloc[:2].drop(columns=["mean radius"]))


def test_no_rows_is_invalid(cancer, small_explainer):
    X, _ = cancer
    with pytest.raises(InvalidInput, match="no rows"):
        small_explainer.explain(X.iloc[:0])


def test_a_non_numeric_value_is_named(cancer, small_explainer):
    X, _ = cancer
    row = X.iloc[:1].astype(object)
    row["mean texture"] = "high"
    with pytest.raises(InvalidInput, match="mean texture"):
        small_explainer.explain(row)


def test_extra_columns_are_ignored_and_columns_reordered(cancer, small_explainer):
    X, _ = cancer
    shuffled = X.iloc[:3][list(reversed(X.columns))].assign(request_id=[1, 2, 3])
    explanation = small_explainer.explain(shuffled)
    assert explanation.features == list(X.columns)
    np.testing.assert_allclose(
        explanation.outputs, small_explainer.explain(X.iloc[:3]).outputs, atol=1e-12
    )


def test_an_empty_or_incomplete_background_is_invalid(cancer, scaled_lr):
    X, _ = cancer
    with pytest.raises(InvalidInput, match="background.*no rows"):
        Explainer(scaled_lr, background=X.iloc[:0], features=list(X.columns))
    with pytest.raises(InvalidInput, match="background.*'worst area'"):
        Explainer(scaled_lr, background=X.drop(columns=["worst area"]), features=list(X.columns))
