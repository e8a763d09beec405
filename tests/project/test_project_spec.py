"""loopml.yaml: a valid spec reads back the same; a wrong one names file, line, key, allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.project import (
    Objective,
    ProjectSpec,
    SpecError,
    find_project,
    load_project,
    parse_project,
)

FULL = textwrap.dedent(
    """\
    name: churn
    task: binary
    target: churned
    description: Who leaves next month
    data:
      train: {path: data/train.csv, role: train}
      live: {uri: "s3://bucket/live.parquet", role: reference}
      holdout: {path: data/holdout.txt, format: csv, role: test}
    pii: [email, phone]
    sensitive: [gender, age_band]
    objectives:
      roc_auc: ">= 0.85"
      recall: "> 0.7"
      log_loss: "< 0.4"
      latency_p95_ms: 50
      max_model_mb: 20
      fairness:
        - {metric: recall, column: gender, max_gap: 0.05}
    serving:
      confidence_threshold: 0.7
      below_threshold: fallback
      fallback_model: churn@baseline
    monitoring:
      drift_threshold: 0.1
      share_drifted_columns: 0.3
      window: 10000 rows
      alert_webhook: https://hooks.example.com/ml
    retraining:
      on: [drift, schedule]
      schedule: "0 3 * * 1"
      min_new_labels: 500
      promote_margin: 0.01
    """
)
MINIMAL = "name: churn\ntask: binary\ntarget: churned\n"


def fail(text: str, source: str = "loopml.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_project(text, source)
    return caught.value


def test_a_full_spec_reads_every_section() -> None:
    spec = parse_project(FULL)
    assert (spec.name, spec.task, spec.target) == ("churn", "binary", "churned")
    assert spec.data["live"].uri == "s3://bucket/live.parquet"
    assert spec.data["train"].resolved_format == "csv"
    assert spec.data["live"].resolved_format == "parquet"
    assert spec.data["holdout"].resolved_format == "csv"
    assert spec.data_for("reference") is spec.data["live"]
    assert spec.pii == ["email", "phone"]
    assert spec.serving.below_threshold == "fallback"
    assert spec.serving.fallback_model == "churn@baseline"
    assert spec.monitoring.window_rows == 10000
    assert spec.monitoring.window_seconds is None
    assert spec.retraining.on == ["drift", "schedule"]  # `on` is a key, not YAML 1.1's True
    assert spec.retraining.min_new_labels == 500
    assert [(f.metric, f.column, f.max_gap) for f in spec.fairness] == [("recall", "gender", 0.05)]
    assert spec.fairness_rules() == spec.fairness
    assert spec.fairness[0].metric_key == "recall_gap_gender"


def test_round_trip_through_yaml_gives_the_same_spec() -> None:
    spec = parse_project(FULL)
    again = parse_project(spec.to_yaml())
    assert again == spec
    assert again.to_dict() == spec.to_dict()
    assert again.objective_list() == spec.objective_list()


def test_only_name_task_target_are_required_and_the_rest_has_defaults() -> None:
    spec = parse_project(MINIMAL)
    assert spec.data == {} and spec.pii == [] and spec.sensitive == []
    assert spec.objective_list() == [] and spec.fairness == []
    assert spec.serving.confidence_threshold == 0.5
    assert spec.serving.below_threshold == "review"
    assert spec.serving.fallback_model is None
    assert spec.monitoring.drift_threshold == 0.05
    assert spec.monitoring.share_drifted_columns == 0.5
    assert spec.monitoring.window == "1d" and spec.monitoring.window_seconds == 86400
    assert spec.retraining.on == ["drift", "performance"]
    assert spec.retraining.schedule is None
    assert spec.retraining.min_new_labels == 100
    assert spec.retraining.promote_margin == 0.0
    assert spec.data_for("train") is None


def test_objectives_are_normalised_and_fairness_kept_apart() -> None:
    spec = parse_project(FULL)
    assert spec.objective_list() == [
        Objective("roc_auc", ">=", 0.85),
        Objective("recall", ">", 0.7),
        Objective("log_loss", "<", 0.4),
        Objective("latency_p95_ms", "<=", 50),
        Objective("model_size_mb", "<=", 20),
    ]
    assert spec.objective_list()[-1].key == "max_model_mb"
    assert all(isinstance(goal, Objective) for goal in spec.objective_list())
    assert spec.fairness[0].passes(0.05) and not spec.fairness[0].passes(0.051)


def test_unknown_top_level_key_with_a_typo_suggests_the_right_one() -> None:
    error = fail(MINIMAL + "objectivs:\n  roc_auc: '>= 0.9'\n")
    message = str(error)
    assert "loopml.yaml:4:" in message
    assert "objectivs" in message and "did you mean 'objectives'?" in message
    for allowed in ("name", "task", "target", "data", "serving", "monitoring", "retraining"):
        assert allowed in message
    assert isinstance(error, InvalidInput)
    assert [(p.line, p.path) for p in error.problems] == [(4, "objectivs")]


def test_unknown_nested_key_names_its_path_and_the_section_keys() -> None:
    message = str(fail(MINIMAL + "serving:\n  confidence: 0.8\n"))
    assert "loopml.yaml:5: serving.confidence: unknown key 'confidence'" in message
    assert "did you mean 'confidence_threshold'?" in message
    assert "confidence_threshold, below_threshold, fallback_model" in message


def test_wrong_enum_lists_the_choices() -> None:
    text = MINIMAL + "serving:\n  confidence_threshold: 0.8\n  below_threshold: maybe\n"
    message = str(fail(text))
    assert "loopml.yaml:6: serving.below_threshold:" in message
    assert "'maybe'" in message
    assert "abstain, fallback, review" in message


def test_no_is_a_string_not_a_boolean() -> None:
    message = str(fail(MINIMAL + "serving:\n  below_threshold: no\n"))
    assert "'no' is not allowed" in message


def test_wrong_task_lists_the_tasks() -> None:
    message = str(fail("name: churn\ntask: classification\ntarget: y\n"))
    assert "loopml.yaml:2: task: 'classification' is not allowed" in message
    assert "binary, multiclass, regression" in message


def test_threshold_that_is_not_a_number_is_refused() -> None:
    text = MINIMAL + "objectives:\n  accuracy: '>= 0.9'\n  roc_auc: '>= high'\n"
    message = str(fail(text))
    assert "loopml.yaml:6: objectives.roc_auc:" in message
    assert "'high'" in message and "not a number" in message


def test_fallback_without_fallback_model_is_refused_at_its_line() -> None:
    text = MINIMAL + "serving:\n  confidence_threshold: 0.8\n  below_threshold: fallback\n"
    error = fail(text)
    assert "loopml.yaml:6: serving.below_threshold:" in str(error)
    assert "fallback_model" in str(error)
    assert "abstain or review" in str(error)


def test_bad_yaml_syntax_names_the_line() -> None:
    error = fail(MINIMAL + "serving:\n  below_threshold: [abstain\n  x: 1\n")
    assert "invalid YAML" in str(error)
    assert error.problems[0].line is not None and error.problems[0].line >= 5
    assert str(error).startswith(f"loopml.yaml:{error.problems[0].line}:")
    tab = fail("name: churn\n\ttask: binary\n")
    assert "loopml.yaml:2:" in str(tab)


def test_several_problems_are_listed_one_per_line_in_file_order() -> None:
    text = textwrap.dedent(
        """\
        name: Bad Name!
        task: binary
        serving:
          confidence_threshold: 1.5
        monitoring:
          window: 3 weeks
          alert_webhook: ftp://x
        retraining:
          on: [drift, weekly]
        """
    )
    error = fail(text, source="proj/loopml.yaml")
    lines = str(error).splitlines()
    assert lines[0] == "proj/loopml.yaml has 6 problems:"
    expected = [
        ("1", "name", "'Bad Name!' is not a slug"),
        ("1", "target", "this required key is missing"),
        ("4", "serving.confidence_threshold", "1.5 is outside the allowed range (0, 1)"),
        ("6", "monitoring.window", "'3 weeks' is not a window"),
        ("7", "monitoring.alert_webhook", "'ftp://x' is not an http(s) URL"),
        ("9", "retraining.on[1]", "'weekly' is not allowed"),
    ]
    for line, (number, path, text_part) in zip(lines[1:], expected, strict=True):
        assert line.strip().startswith(f"proj/loopml.yaml:{number}: {path}: "), line
        assert text_part in line


def test_duplicate_keys_are_refused() -> None:
    message = str(fail(MINIMAL + "task: regression\n"))
    assert "loopml.yaml:4: task: duplicate key 'task' (first at line 2)" in message


@pytest.mark.parametrize(
    ("extra", "line", "path", "text"),
    [
        ("pii: [churned]\n", 4, "pii[0]", "the target 'churned' cannot be listed"),
        (
            "sensitive: [gender]\nobjectives:\n  fairness:\n"
            "    - {metric: accuracy, column: gendr, max_gap: 0.1}\n",
            7,
            "objectives.fairness[0].column",
            "'gendr' is not a sensitive column",
        ),
        (
            "objectives:\n  fairness:\n    - {metric: accuracy, column: g}\n",
            6,
            "objectives.fairness[0].max_gap",
            "this required key is missing",
        ),
        ("retraining:\n  on: [schedule]\n", 5, "retraining.on", "retraining.schedule is not set"),
        ("retraining:\n  schedule: '0 3 * * *'\n", 5, "retraining.schedule", "not in retraining"),
        ("retraining:\n  on: [schedule]\n  schedule: daily\n", 6, "retraining.schedule", "cron"),
        ("retraining:\n  min_new_labels: -1\n", 5, "retraining.min_new_labels", "minimum 0"),
        ("retraining:\n  min_new_labels: 2.5\n", 5, "retraining.min_new_labels", "whole number"),
        ("data:\n  t: {path: a.csv, uri: 's3://b/a.csv'}\n", 5, "data.t", "exactly one of"),
        ("data:\n  t: {path: a.csv, role: training}\n", 5, "data.t.role", "train, validation"),
        ("serving:\n  confidence_threshold: true\n", 5, "serving.confidence_threshold", "number"),
        ("serving:\n  fallback_model: churn\n", 5, "serving.fallback_model", "'name@alias'"),
        ("serving: abstain\n", 4, "serving", "keys here are: confidence_threshold"),
        ("monitoring:\n  drift_threshold: 0\n", 5, "monitoring.drift_threshold", "(0, 1]"),
        ("objectives:\n  roc_auc: 85\n", 5, "objectives.roc_auc", "not a percentage"),
        ("objectives:\n  roc_auc: true\n", 5, "objectives.roc_auc", "such as '>= 0.85'"),
        ("objectives:\n  custom_score: 3\n", 5, "objectives.custom_score", "needs an operator"),
        ("objectives:\n  max_model_mb: '>= 5'\n", 5, "objectives.max_model_mb", "upper limit"),
        ("objectives:\n  fairnes: [{metric: a}]\n", 5, "objectives.fairnes", "only 'fairness'"),
    ],
)
def test_each_wrong_value_is_named_at_its_line(extra: str, line: int, path: str, text: str) -> None:
    error = fail(MINIMAL + extra)
    assert [(p.line, p.path) for p in error.problems] == [(line, path)], str(error)
    assert text in str(error)
    assert str(error).startswith(f"loopml.yaml:{line}: {path}: ")


def test_empty_and_non_mapping_files_are_refused() -> None:
    assert "the file is empty" in str(fail(""))
    assert "must be a mapping" in str(fail("- name: churn\n"))


def test_values_with_braces_are_shown_as_written() -> None:
    message = str(fail("name: '{x}'\ntask: binary\ntarget: y\n"))
    assert "'{x}' is not a slug" in message


def test_spec_models_are_frozen_and_refuse_unknown_fields_in_python_too() -> None:
    spec = parse_project(MINIMAL)
    with pytest.raises(ValueError):
        spec.task = "regression"  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        ProjectSpec(name="x", task="binary", target="y", colour="red")  # type: ignore[call-arg]


def write_spec(folder: Path, text: str = MINIMAL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loopml.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_project_searches_the_current_folder_and_its_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_file = write_spec(tmp_path / "proj", MINIMAL + "data:\n  train: {path: data/t.csv}\n")
    nested = tmp_path / "proj" / "src" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    spec = load_project()
    assert spec.name == "churn"
    assert Path(spec.source) == spec_file.resolve()
    assert spec.root == spec_file.resolve().parent
    assert spec.resolve("train") == str(spec_file.resolve().parent / "data" / "t.csv")
    assert find_project(nested) == spec_file.resolve()
    with pytest.raises(NotFound, match="declares no data source 'test'"):
        spec.resolve("test")


def test_load_project_accepts_a_file_or_its_folder(tmp_path: Path) -> None:
    spec_file = write_spec(tmp_path / "p")
    assert load_project(spec_file).name == "churn"
    assert load_project(str(tmp_path / "p")).name == "churn"


def test_no_spec_anywhere_is_not_found_and_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    if find_project() is not None:  # pragma: no cover - a loopml.yaml above the temp folder
        pytest.skip("a loopml.yaml exists above the temporary folder")
    with pytest.raises(NotFound, match="loopml init"):
        load_project()
    with pytest.raises(NotFound, match="loopml init"):
        load_project(tmp_path / "missing.yaml")


def test_errors_from_a_file_name_that_file(tmp_path: Path) -> None:
    spec_file = write_spec(tmp_path / "p", MINIMAL + "task: regression\n")
    with pytest.raises(SpecError) as caught:
        load_project(spec_file)
    assert str(caught.value).startswith(f"{spec_file}:4: task:")
    assert caught.value.source == str(spec_file)


def test_monitoring_alert_rules_and_schedule() -> None:
    base = "name: a\ntask: binary\ntarget: y\nmonitoring:\n"
    spec = parse_project(
        base + "  schedule: '*/15 * * * *'\n  alerts:\n    - rule: latency_p99_ms\n"
        "      above: 250\n      severity: critical\n    - rule: drift\n"
    )
    rules = spec.monitoring.alerts
    assert [(r.rule, r.above, r.severity) for r in rules] == [
        ("latency_p99_ms", 250, "critical"), ("drift", None, "warning")
    ]
    assert spec.monitoring.schedule == "*/15 * * * *"
    defaults = {r.rule for r in parse_project(base + "  window: 1d\n").monitoring.alerts}
    assert {"drift", "performance", "error_rate"} <= defaults
    cases = [
        ("  alerts:\n    - rule: latency_p99_ms\n", "above"),
        ("  alerts:\n    - rule: vibes\n", "vibes"),
        ("  alerts:\n    - rule: drift\n      severity: loud\n", "severity"),
        ("  alerts:\n    - rule: error_rate\n      above: -1\n", "above"),
        ("  schedule: every day\n", "schedule"),
    ]
    for text, field in cases:
        with pytest.raises(InvalidInput, match=field):
            parse_project(base + text)
