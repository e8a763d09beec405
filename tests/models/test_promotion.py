"""Promotion gates: objectives from loopml.yaml, champion vs challenger, force and audit."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml as ml
from loopml.errors import InvalidInput
from loopml.models.promotion import PromotionRefused
from loopml.project import parse_project

SPEC = """
name: bc
task: binary
target: target
sensitive: [group]
objectives:
  roc_auc: ">= 0.95"
  max_model_mb: 5
  fairness:
    - {metric: accuracy, column: group, max_gap: 0.2}
"""


@pytest.fixture(scope="module")
def split():
    bunch = load_breast_cancer(as_frame=True)
    X, y = bunch.data, bunch.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    group = pd.Series(np.where(np.arange(len(X_test)) % 2, "a", "b"), name="group")
    return X_train, X_test, y_train, y_test, group


def register(split, model, name="bc", fail_run=False):
    X_train, X_test, y_train, y_test, _ = split
    model.fit(X_train, y_train)
    with ml.start_run(experiment="bc") as run:
        run.log_metric("roc_auc", 0.5)  # overridden by the holdout evaluation below
        version = run.log_model(model, name, input_example=X_test[:5])
        if fail_run:
            raise_inside = RuntimeError("training crashed after registering")
            run.end("FAILED", error=str(raise_inside))
    return version


def good_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def test_a_good_model_passes_every_gate_and_takes_the_alias(split):
    _, X_test, _, y_test, group = split
    version = register(split, good_model())
    result = ml.promote(
        "bc",
        version.version,
        holdout=(X_test, y_test),
        sensitive=group.to_frame(),
        spec=parse_project(SPEC),
    )
    assert result.promoted and not result.forced
    assert {g.name for g in result.gates} == {"roc_auc", "model_size_mb", "accuracy_gap_group"}
    assert all(g.passed for g in result.gates)
    assert ml.load_model("bc@champion").version.version == version.version
    [event] = ml.alias_history("bc")
    assert event.to_version == version.version and "gates passed" in event.reason


def test_a_weak_model_is_refused_with_a_table_and_the_alias_stays(split):
    _, X_test, _, y_test, group = split
    first = register(split, good_model())
    ml.set_alias("bc", "champion", first.version)
    weak = register(split, DummyClassifier(strategy="prior"))
    with pytest.raises(PromotionRefused) as refused:
        ml.promote(
            "bc",
            weak.version,
            holdout=(X_test, y_test),
            sensitive=group.to_frame(),
            spec=parse_project(SPEC),
        )
    message = str(refused.value)
    assert "roc_auc >= 0.95" in message and "FAIL" in message
    assert f"beats bc/{first.version}" in message
    assert ml.load_model("bc@champion").version.version == first.version


def test_a_challenger_must_beat_the_champion_by_the_margin(split):
    _, X_test, _, y_test, _ = split
    spec = parse_project("name: bc\ntask: binary\ntarget: target\n")
    champion = register(split, good_model())
    ml.set_alias("bc", "champion", champion.version)
    same = register(split, good_model())
    with pytest.raises(PromotionRefused, match="beats bc/1"):
        ml.promote("bc", same.version, holdout=(X_test, y_test), spec=spec, margin=0.001)
    result = ml.promote("bc", same.version, holdout=(X_test, y_test), spec=spec, margin=0.0)
    assert result.promoted


def test_without_a_holdout_the_champion_gate_explains_what_is_missing(split):
    spec = parse_project("name: bc\ntask: binary\ntarget: target\n")
    first = register(split, good_model())
    ml.set_alias("bc", "champion", first.version)
    second = register(split, good_model())
    with pytest.raises(PromotionRefused, match="holdout"):
        ml.promote("bc", second.version, spec=spec)


def test_forcing_needs_a_reason_and_is_audited(split):
    _, X_test, _, y_test, group = split
    weak = register(split, DummyClassifier(strategy="prior"))
    with pytest.raises(InvalidInput, match="reason"):
        ml.promote("bc", weak.version, spec=parse_project(SPEC), force=True)
    result = ml.promote(
        "bc",
        weak.version,
        holdout=(X_test, y_test),
        sensitive=group.to_frame(),
        spec=parse_project(SPEC),
        force=True,
        reason="hotfix: old model broken",
    )
    assert result.promoted and result.forced
    [event] = ml.alias_history("bc")
    assert event.forced and event.reason == "hotfix: old model broken"


def test_a_version_from_a_failed_run_cannot_be_promoted(split):
    version = register(split, good_model(), fail_run=True)
    with pytest.raises(InvalidInput, match="ended FAILED"):
        ml.promote("bc", version.version, spec=parse_project(SPEC), force=True, reason="x")
    assert ml.alias_history("bc") == []


def test_spec_file_is_read_from_the_project_folder(split, tmp_path, monkeypatch):
    _, X_test, _, y_test, group = split
    (tmp_path / "loopml.yaml").write_text(textwrap.dedent(SPEC))
    monkeypatch.chdir(tmp_path)
    version = register(split, DummyClassifier(strategy="prior"))
    with pytest.raises(PromotionRefused, match="roc_auc"):
        ml.promote("bc", version.version, holdout=(X_test, y_test), sensitive=group.to_frame())


def test_unknown_versions_are_clear_errors(split):
    register(split, good_model())
    with pytest.raises(Exception, match="no version 9"):
        ml.promote("bc", 9)
    with pytest.raises(Exception, match="'ghost' is not registered"):
        ml.promote("ghost", 1)


def test_a_holdout_with_extra_columns_feeds_the_model_its_inputs_and_fairness_its_groups(split):
    _, X_test, _, y_test, group = split
    version = register(split, good_model())
    holdout = X_test.reset_index(drop=True).assign(group=group, customer_id=range(len(X_test)))
    result = ml.promote(
        "bc",
        version.version,
        holdout=(holdout, y_test.reset_index(drop=True)),
        spec=parse_project(SPEC),
    )
    gap = next(g for g in result.gates if g.name == "accuracy_gap_group")
    assert gap.value is not None and gap.passed
    with pytest.raises(InvalidInput, match="lacks input columns.*mean radius"):
        ml.promote(
            "bc",
            version.version,
            holdout=(holdout.drop(columns=["mean radius"]), y_test),
            spec=parse_project(SPEC),
        )
