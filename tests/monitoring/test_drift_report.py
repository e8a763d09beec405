"""drift_report: the right columns are flagged, bad data gives notes instead of false alarms,
and bad arguments give errors that say what to fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

import loopml as ml
from loopml.data.profile import profile_frame
from loopml.errors import InvalidInput
from loopml.monitoring.drift import DriftReport, drift_report


def frames(n: int = 3000, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current: ``age`` and ``city`` shift, ``income`` and ``plan`` do not."""
    rng = np.random.default_rng(seed)
    cities = np.array(["paris", "lyon", "nice", "lille"])
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "city": cities[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])],
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(46, 10, n),  # +0.6 standard deviation
            "income": rng.lognormal(10, 0.5, n),
            "city": cities[rng.choice(4, n, p=[0.1, 0.2, 0.3, 0.4])],
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )
    return reference, current


def test_large_samples_use_distances_and_flag_exactly_the_shifted_columns():
    reference, current = frames(3000)
    report = ml.drift_report(reference, current)
    assert isinstance(report, DriftReport)
    assert report.drifted_columns == ["age", "city"]
    assert [report[c].test for c in ("age", "income", "city", "plan")] == [
        "wasserstein",
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
    ]
    assert report.share_drifted == 0.5 and report.dataset_drift is True
    age = report["age"]
    expected = sps.wasserstein_distance(reference.age, current.age) / np.std(reference.age)
    assert age.statistic == pytest.approx(expected, rel=1e-9)
    assert (age.threshold, age.p_value, age.meaningful, age.kind) == (0.1, None, True, "numeric")
    freq = lambda s: s.value_counts().reindex(["paris", "lyon", "nice", "lille"]).to_numpy()  # noqa: E731
    assert report["city"].statistic == pytest.approx(
        jensenshannon(freq(reference.city), freq(current.city)), rel=1e-9
    )


def test_small_reference_uses_p_value_tests():
    reference, current = frames(800, seed=4)  # a seed without a chance p < 0.05 elsewhere
    report = drift_report(reference, current)
    age, city = report["age"], report["city"]
    assert (age.test, city.test) == ("ks", "chi2")
    expected = sps.ks_2samp(reference.age, current.age)
    assert age.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert age.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    table = pd.crosstab(
        np.r_[np.zeros(800), np.ones(800)], np.r_[reference.city, current.city]
    ).to_numpy()
    assert city.p_value == pytest.approx(sps.chi2_contingency(table).pvalue, rel=1e-9)
    assert age.drifted and city.drifted and age.threshold == 0.05
    assert not report["income"].drifted and not report["plan"].drifted
    # the size rule is configurable
    assert drift_report(reference, current, max_sample_for_pvalue=500)["age"].test == "wasserstein"


def test_per_column_tests_and_thresholds():
    reference, current = frames(2000)
    report = drift_report(
        reference,
        current,
        tests={"age": "psi", "city": ("chi2", 0.01), "income": ("ks", 1e-6), "plan": "js"},
    )
    assert [(c.test, c.threshold) for c in report.columns.values()] == [
        ("psi", 0.2),
        ("ks", 1e-6),
        ("chi2", 0.01),
        ("jensenshannon", 0.1),
    ]
    assert report["age"].drifted and report["city"].drifted
    loose = drift_report(reference, current, threshold=0.9)  # one threshold for every column
    assert not loose.drifted_columns
    assert {c.threshold for c in loose.columns.values()} == {0.9}


def test_a_stored_profile_can_be_the_reference():
    reference, current = frames(3000)
    report = drift_report(profile_frame(reference), current)
    assert report.reference_is_profile
    assert report.drifted_columns == ["age", "city"]
    assert report["age"].test == "psi"  # binned: the profile's deciles
    assert report["city"].test == "jensenshannon"
    # binned tests read the same bins whether the reference is the frame or its profile
    from_frame = drift_report(reference, current, tests={"age": "psi", "income": "psi"})
    for column in ("age", "income"):
        assert report[column].statistic == pytest.approx(from_frame[column].statistic, rel=1e-12)
    assert report["city"].statistic == pytest.approx(from_frame["city"].statistic, rel=1e-12)
    # a raw-value test falls back to a binned one, and says so
    fallback = drift_report(profile_frame(reference), current, tests={"age": "wasserstein"})
    assert fallback["age"].test == "psi" and "needs raw reference values" in fallback["age"].note
    assert "profile" in " ".join(report.notes)


def test_profile_lumps_rare_categories_into_other():
    rng = np.random.default_rng(2)
    codes = [f"c{i}" for i in range(60)]
    reference = pd.DataFrame({"code": pd.Categorical(rng.choice(codes, 5000))})
    current = pd.DataFrame({"code": rng.choice([*codes, "new"], 5000)})
    profile = profile_frame(reference, max_categories=50)
    assert "__other__" in profile["columns"]["code"]["frequencies"]
    report = drift_report(profile, current)
    code = report["code"]
    assert code.meaningful and not code.drifted and code.test == "jensenshannon"
    assert sum(code.current.counts) == 5000  # the new value and the 10 rare ones: "__other__"
    assert "new" not in code.categories


def test_prediction_and_label_drift_are_columns_like_any_other():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "x": rng.normal(size=2000),
            "prediction": rng.random(2000),
            "target": rng.integers(0, 2, 2000),
        }
    )
    current = pd.DataFrame(
        {
            "x": rng.normal(size=2000),
            "prediction": rng.random(2000) ** 3,
            "target": (rng.random(2000) < 0.8).astype(int),
        }
    )
    report = drift_report(reference, current, columns=["prediction", "target"])
    assert list(report.columns) == ["prediction", "target"]
    assert report.drifted_columns == ["prediction", "target"]
    target = report["target"]
    assert target.kind == "categorical" and target.test == "jensenshannon"
    assert "2 distinct values" in target.note and sorted(target.categories) == ["0", "1"]


def test_categorical_argument_compares_numeric_codes_as_categories():
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"zip": rng.choice([75001, 69001, 6000, 59000, 13001, 33000], 3000)})
    current = pd.DataFrame({"zip": rng.choice([75001, 69001, 6000, 59000, 13001, 33000], 3000)})
    assert drift_report(reference, current)["zip"].test == "wasserstein"
    report = drift_report(reference, current, categorical=["zip"])
    assert report["zip"].kind == "categorical" and report["zip"].test == "jensenshannon"
    assert not report["zip"].drifted


def test_missing_values_are_reported_apart_and_left_out_of_the_test():
    rng = np.random.default_rng(5)
    ref_values, cur_values = rng.normal(size=3000), rng.normal(size=3000)
    cur_with_gaps = cur_values.copy()
    cur_with_gaps[:900] = np.nan
    cities = pd.Series(rng.choice(["a", "b", "c"], 3000)).where(rng.random(3000) > 0.2)
    report = drift_report(
        pd.DataFrame({"x": ref_values, "city": rng.choice(["a", "b", "c"], 3000)}),
        pd.DataFrame({"x": cur_with_gaps, "city": cities}),
    )
    x = report["x"]
    assert (x.reference.missing_rate, x.current.missing_rate) == (0.0, 0.3)
    assert x.current.n_missing == 900 and "missing rate 0.0% -> 30.0%" in x.note
    expected = sps.wasserstein_distance(ref_values, cur_values[900:]) / np.std(ref_values)
    assert x.statistic == pytest.approx(expected, rel=1e-9) and not x.drifted
    assert report["city"].current.missing_rate == pytest.approx(0.2, abs=0.03)
    assert not report["city"].drifted


def test_infinities_are_left_out_with_a_note():
    rng = np.random.default_rng(6)
    current = rng.normal(size=500)
    current[:5] = np.inf
    report = drift_report(pd.DataFrame({"x": rng.normal(size=500)}), pd.DataFrame({"x": current}))
    assert report["x"].current.n_inf == 5 and "infinite values" in report["x"].note
    assert report["x"].statistic is not None and np.isfinite(report["x"].statistic)


def test_bad_columns_give_notes_not_false_alarms():
    rng = np.random.default_rng(7)
    n = 2000
    reference = pd.DataFrame(
        {
            "all_nan": np.full(n, np.nan),
            "constant": np.full(n, 3.0),
            "constant_ref": np.full(n, 1.0),
            "flag": ["on"] * n,
            "age": rng.normal(size=n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "user_id": [f"u{i}" for i in range(n)],
        }
    )
    current = pd.DataFrame(
        {
            "all_nan": np.full(n, np.nan),
            "constant": np.full(n, 3.0),
            "constant_ref": rng.normal(1.0, 1.0, n),
            "flag": ["on"] * n,
            "age": [f"{v:.1f}" for v in rng.normal(size=n)],  # numbers arrive as strings
            "when": pd.date_range("2025-01-01", periods=n, freq="h"),
            "user_id": [f"v{i}" for i in range(n)],
        }
    )
    report = drift_report(reference, current)
    untested = {c.name: c.note for c in report.columns.values() if not c.meaningful}
    assert set(untested) == {"all_nan", "constant", "flag", "when", "user_id"}
    assert "no values" in untested["all_nan"]
    assert "constant (3) on both sides" in untested["constant"]
    assert "constant ('on') on both sides" in untested["flag"]
    assert "datetime" in untested["when"] and "identifier" in untested["user_id"]
    assert not any(report[c].drifted for c in untested)
    # a feature that was constant and now varies has drifted (documented decision)
    constant_ref = report["constant_ref"]
    assert constant_ref.drifted and constant_ref.meaningful
    assert "reference is constant" in constant_ref.note
    # a type change is a schema problem reported as drift, not a crash
    age = report["age"]
    assert age.drifted and age.test == "type" and "type changed" in age.note
    assert "numeric" in age.note and report.drifted_columns == ["constant_ref", "age"]


def test_constant_reference_and_current_with_a_small_change_is_not_drift():
    current = np.full(3000, 1.0)
    current[:30] = 2.0  # 1% of the values differ: below the Jensen-Shannon threshold
    report = drift_report(pd.DataFrame({"x": np.full(3000, 1.0)}), pd.DataFrame({"x": current}))
    assert report["x"].meaningful and not report["x"].drifted
    assert report["x"].kind == "categorical"  # two distinct values: compared as categories


def test_too_few_rows_is_not_a_verdict():
    rng = np.random.default_rng(8)
    report = drift_report(
        pd.DataFrame({"x": rng.normal(size=500), "c": ["a", "b"] * 250}),
        pd.DataFrame({"x": rng.normal(5, 1, 20), "c": ["b"] * 20}),
    )
    for column in report.columns.values():
        assert not column.meaningful and not column.drifted
        assert "too few rows" in column.note and "20 current" in column.note
    assert not report.dataset_drift


def test_no_common_columns_names_both_sides():
    with pytest.raises(InvalidInput, match=r"no column in common.*'a', 'b'.*'c'"):
        drift_report(pd.DataFrame({"a": [1.0], "b": [2.0]}), pd.DataFrame({"c": [1.0]}))


def test_columns_only_on_one_side_are_noted():
    rng = np.random.default_rng(9)
    report = drift_report(
        pd.DataFrame({"a": rng.normal(size=100), "old": 1.0}),
        pd.DataFrame({"a": rng.normal(size=100), "new": 1.0}),
    )
    assert list(report.columns) == ["a"]
    assert any("only in reference: 'old'" in n for n in report.notes)
    assert any("only in current: 'new'" in n for n in report.notes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tests": {"age": "t-test"}}, r"tests\['age'\]: unknown drift test 't-test'.*ks, wasser"),
        ({"tests": {"age": ("ks", 1.5)}}, r"tests\['age'\]: ks needs 0 < threshold < 1"),
        ({"tests": {"age": ("psi", -1)}}, r"tests\['age'\]: psi needs a finite threshold > 0"),
        ({"tests": {"age": ("psi", float("nan"))}}, r"tests\['age'\]"),
        ({"tests": {"age": ("jensenshannon", 2)}}, r"jensenshannon needs 0 < threshold <= 1"),
        ({"tests": {"age": ("psi", "high")}}, r"tests\['age'\]: threshold must be a number"),
        ({"tests": {"age": ("psi", 0.1, 3)}}, r"tests\['age'\]: expected a test name"),
        ({"tests": {"city": "ks"}}, r"tests\['city'\]: ks does not apply to categorical.*chi2"),
        ({"tests": {"nope": "psi"}}, r"tests: column 'nope' is not compared"),
        ({"columns": ["age", "nope"]}, r"columns: 'nope' not in reference"),
        ({"columns": "age"}, r"columns: must be a list"),
        ({"categorical": ["nope"]}, r"categorical: 'nope' not in reference"),
        ({"threshold": -0.1}, r"threshold: must be a finite number > 0"),
        ({"threshold": 2.0, "max_sample_for_pvalue": 10**6}, r"column 'age' uses ks"),
        ({"share_drifted_columns": 0}, r"share_drifted_columns"),
        ({"share_drifted_columns": 1.5}, r"share_drifted_columns"),
        ({"max_sample_for_pvalue": -1}, r"max_sample_for_pvalue"),
    ],
)
def test_bad_arguments_are_invalid_input_naming_the_problem(kwargs, message):
    reference, current = frames(200)
    with pytest.raises(InvalidInput, match=message):
        drift_report(reference, current, **kwargs)


def test_bad_tables_are_invalid_input():
    with pytest.raises(InvalidInput, match="current: cannot use a str"):
        drift_report(pd.DataFrame({"a": [1.0]}), "not a table")


def test_other_table_shapes_are_accepted():
    rng = np.random.default_rng(10)
    reference = {"a": list(rng.normal(size=300)), "b": list(rng.normal(size=300))}
    current = rng.normal(size=(300, 2))
    report = drift_report(np.column_stack([reference["a"], reference["b"]]), current)
    assert list(report.columns) == ["0", "1"] and not report.drifted_columns
    assert list(drift_report(reference, pd.DataFrame(reference)).columns) == ["a", "b"]


def test_dataset_drift_follows_the_share_of_drifted_columns():
    reference, current = frames(3000)
    assert drift_report(reference, current, share_drifted_columns=0.5).dataset_drift
    assert not drift_report(reference, current, share_drifted_columns=0.51).dataset_drift


def test_to_dict_is_json_safe_and_complete():
    reference, current = frames(1500)
    reference["const"], current["const"] = 1.0, np.r_[np.full(1400, 1.0), np.full(100, 9.0)]
    report = drift_report(reference, current, tests={"const": "wasserstein"})
    data = json.loads(report.to_json())
    assert data == report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["drifted_columns"] == report.drifted_columns
    age = data["columns"]["age"]
    assert set(age) >= {
        "name",
        "kind",
        "test",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
        "meaningful",
        "note",
        "reference",
        "current",
        "bins",
        "verdict",
    }
    assert len(age["reference"]["counts"]) == len(age["bins"]) - 1
    assert sum(age["current"]["counts"]) == 1500
    city = data["columns"]["city"]
    assert sum(city["reference"]["counts"]) == 1500 and len(city["categories"]) == 4
    assert data["columns"]["const"]["drifted"] is True


def test_summary_is_a_readable_table():
    reference, current = frames(3000)
    text = drift_report(reference, current).summary()
    assert text.startswith("Drift: 2 of 4 columns drifted (50%); dataset drift: YES")
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    assert "DRIFT" in lines["age"] and "no drift" in lines["income"]


def test_p_value_threshold_moves_p_value_tests_only():
    import numpy as np
    import pandas as pd

    from loopml.errors import InvalidInput
    from loopml.monitoring.drift import drift_report

    rng = np.random.default_rng(3)
    small_ref = pd.DataFrame({"x": rng.normal(size=500)})
    small_cur = pd.DataFrame({"x": rng.normal(0.12, 1, size=500)})
    loose = drift_report(small_ref, small_cur, p_value_threshold=0.5)["x"]
    strict = drift_report(small_ref, small_cur, p_value_threshold=1e-6)["x"]
    assert loose.test == strict.test == "ks"
    assert (loose.threshold, strict.threshold) == (0.5, 1e-6)
    assert loose.p_value == strict.p_value and loose.drifted and not strict.drifted
    big = drift_report(pd.DataFrame({"x": rng.normal(size=5000)}),
                       pd.DataFrame({"x": rng.normal(size=5000)}), p_value_threshold=0.2)["x"]
    assert big.test == "wasserstein" and big.threshold == 0.1
    for bad in (0, 1, 1.5, True):
        with pytest.raises(InvalidInput, match="p_value_threshold"):
            drift_report(small_ref, small_cur, p_value_threshold=bad)
