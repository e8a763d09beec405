"""ml.autolog(): every scikit-learn fit is recorded without changes to the user's code."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml as ml
from loopml.store.entities import RunStatus
from loopml.tracking import state

ORIGINAL_FIT = LogisticRegression.fit


@pytest.fixture(autouse=True)
def autologging() -> Iterator[None]:
    ml.autolog()
    yield
    ml.autolog(disable=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=120) > 0).astype(int)
    return X, y


def stored_runs():
    return state.get_store().search_runs(None)


def test_fit_without_a_run_creates_one(data) -> None:
    X, y = data
    model = LogisticRegression(C=0.37, max_iter=300).fit(X, y)
    assert ml.active_run() is None
    (run,) = stored_runs()
    assert run.info.status is RunStatus.FINISHED
    assert run.info.name == "LogisticRegression"
    assert run.params["C"] == "0.37"
    assert run.params["max_iter"] == "300"
    assert run.tags["estimator_class"].endswith("LogisticRegression")
    assert run.metrics["training_score"].value == pytest.approx(model.score(X, y))
    assert run.metrics["fit_time_s"].value >= 0.0


def test_each_fit_without_a_run_gets_its_own_run(data) -> None:
    X, y = data
    LogisticRegression(C=1.0).fit(X, y)
    LogisticRegression(C=2.0).fit(X, y)
    assert sorted(r.params["C"] for r in stored_runs()) == ["1.0", "2.0"]


def test_inside_an_active_run_the_first_fit_logs_into_it(data) -> None:
    X, y = data
    with ml.start_run(name="mine") as run:
        LogisticRegression(C=0.5).fit(X, y)
        LogisticRegression(C=0.25).fit(X, y)  # params are fixed: a child run
    runs = {r.run_id: r for r in stored_runs()}
    assert runs[run.run_id].params["C"] == "0.5"
    assert "training_score" in runs[run.run_id].metrics
    children = [r for r in runs.values() if r.info.parent_run_id == run.run_id]
    assert len(runs) == 2 and len(children) == 1
    assert children[0].params["C"] == "0.25"


def test_pipeline_fit_logs_once(data) -> None:
    X, y = data
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=0.8))
    pipeline.fit(X, y)
    (run,) = stored_runs()  # not one per inner step
    assert run.tags["estimator_class"].endswith("Pipeline")
    assert run.params["logisticregression__C"] == "0.8"
    assert run.metrics["training_score"].value == pytest.approx(pipeline.score(X, y))


def test_grid_search_logs_once(data) -> None:
    X, y = data
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    (run,) = stored_runs()
    assert run.tags["estimator_class"].endswith("GridSearchCV")


def test_inherited_fit_is_recorded(data) -> None:
    from sklearn.ensemble import RandomForestClassifier  # fit comes from BaseForest

    X, y = data
    RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    (run,) = stored_runs()
    assert run.tags["estimator_class"].endswith("RandomForestClassifier")
    assert run.params["n_estimators"] == "3"


def test_fits_with_other_signatures_still_work(data) -> None:
    from sklearn.preprocessing import LabelEncoder

    X, y = data
    encoder = LabelEncoder().fit(["b", "a", "b"])  # fit(y): one argument only
    assert encoder.classes_.tolist() == ["a", "b"]
    model = LogisticRegression(C=0.3).fit(X=X, y=y)  # keywords
    assert model.score(X, y) > 0.5
    by_class = {r.tags["estimator_class"].rsplit(".", 1)[-1]: r for r in stored_runs()}
    assert set(by_class) == {"LabelEncoder", "LogisticRegression"}
    assert by_class["LogisticRegression"].metrics["training_score"].value == pytest.approx(
        model.score(X, y)
    )


def test_recording_problems_never_break_the_users_fit(data) -> None:
    X, y = data
    with ml.start_run() as run:
        run.log_param("C", "mine")  # autolog's C would conflict with it
        model = LogisticRegression(C=0.5).fit(X, y)
    assert hasattr(model, "coef_")
    assert ml.get_run(run.run_id).params["C"] == "mine"


def test_a_failing_fit_marks_its_run_failed(data) -> None:
    X, _ = data
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, np.zeros(len(X)))  # one class only
    (run,) = stored_runs()
    assert run.info.status is RunStatus.FAILED
    assert "ValueError" in run.info.error
    assert ml.active_run() is None


def test_disable_restores_plain_fit(data) -> None:
    X, y = data
    ml.autolog(disable=True)
    assert LogisticRegression.fit is ORIGINAL_FIT
    LogisticRegression().fit(X, y)
    assert stored_runs() == []
    ml.autolog()
    assert LogisticRegression.fit is not ORIGINAL_FIT
    LogisticRegression().fit(X, y)
    assert len(stored_runs()) == 1
