"""search_runs: the filter language, ordering, pagination, and what it refuses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import pytest

import loopml as ml
from loopml.errors import FilterSyntaxError, InvalidInput, NotFound


@dataclass(frozen=True)
class Spec:
    name: str
    model: str
    auc: float
    loss: float
    team: str


SPECS = [
    Spec("rf-1", "rf", 0.91, 0.30, "fraud"),
    Spec("rf-2", "rf", 0.85, 0.40, "risk"),
    Spec("lr-1", "lr", 0.95, 0.20, "fraud"),
    Spec("lr-2", "lr", 0.70, 0.60, "risk"),
    Spec("gb-1", "gb", 0.97, 0.15, "fraud"),
    Spec("gb-2", "gb", 0.88, 0.35, "growth"),
    Spec("gb-3", "gb", 0.80, 0.45, "growth"),
]


@pytest.fixture
def populated() -> dict[str, str]:
    """Seven runs in experiment "search" and one in "elsewhere"; name -> run id."""
    ids = {}
    for spec in SPECS:
        with ml.start_run(experiment="search", name=spec.name, tags={"team": spec.team}) as run:
            run.log_params({"model": spec.model, "C": 1.0})
            run.log_metrics({"auc": spec.auc, "loss": spec.loss})
        ids[spec.name] = run.run_id
    with ml.start_run(experiment="elsewhere", name="other") as run:
        run.log_params({"model": "rf"})
        run.log_metric("auc", 0.99)
    ids["other"] = run.run_id
    return ids


def names(frame: pd.DataFrame) -> list[str]:
    return frame["name"].tolist()


def expected(predicate) -> set[str]:
    return {s.name for s in SPECS if predicate(s)}


def test_result_is_a_dataframe_with_metric_param_and_tag_columns(populated) -> None:
    frame = ml.search_runs("search")
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(SPECS)
    for column in (
        "run_id",
        "name",
        "status",
        "start_time",
        "metrics.auc",
        "metrics.loss",
        "params.model",
        "params.C",
        "tags.team",
    ):
        assert column in frame.columns
    row = frame.set_index("name").loc["lr-2"]
    assert row["run_id"] == populated["lr-2"]
    assert row["metrics.auc"] == 0.70
    assert row["params.model"] == "lr"
    assert row["tags.team"] == "risk"
    assert row["status"] == "FINISHED"
    assert row["experiment"] == "search"
    assert isinstance(row["start_time"], pd.Timestamp)


def test_experiments_scope_the_search(populated) -> None:
    assert "other" not in names(ml.search_runs("search"))
    assert names(ml.search_runs("elsewhere")) == ["other"]
    assert set(names(ml.search_runs(["search", "elsewhere"]))) == set(populated)
    assert set(names(ml.search_runs())) == set(populated)


def test_unknown_experiment_is_not_found(populated) -> None:
    with pytest.raises(NotFound, match="'nope'.*search"):
        ml.search_runs("nope")


def test_empty_result_keeps_the_columns(populated) -> None:
    frame = ml.search_runs("search", filter="metrics.auc > 2")
    assert frame.empty
    assert "run_id" in frame.columns and "name" in frame.columns


FILTERS = [
    ("metrics.auc > 0.86", lambda s: s.auc > 0.86),
    ("metrics.auc >= 0.88 and metrics.loss < 0.3", lambda s: s.auc >= 0.88 and s.loss < 0.3),
    (
        "metrics.auc > 0.86 and (params.model = 'rf' or params.model = 'lr')",
        lambda s: s.auc > 0.86 and s.model in ("rf", "lr"),
    ),
    (
        # AND binds tighter than OR
        "params.model = 'lr' or params.model = 'gb' and metrics.auc > 0.9",
        lambda s: s.model == "lr" or (s.model == "gb" and s.auc > 0.9),
    ),
    (
        "(params.model = 'lr' or params.model = 'gb') and metrics.auc > 0.9",
        lambda s: s.model in ("lr", "gb") and s.auc > 0.9,
    ),
    ("params.model != 'gb'", lambda s: s.model != "gb"),
    (
        "params.model IN ('rf', 'lr') and tags.team = 'risk'",
        lambda s: s.model in ("rf", "lr") and s.team == "risk",
    ),
    ("tags.team LIKE 'fr%'", lambda s: s.team.startswith("fr")),
    (
        "attributes.name LIKE 'gb-%' or metrics.loss <= 0.2",
        lambda s: s.name.startswith("gb-") or s.loss <= 0.2,
    ),
    ("attributes.status = 'FINISHED' and params.C = '1.0'", lambda s: True),
]


def test_filters_select_the_expected_runs(any_store, populated) -> None:
    for text, predicate in FILTERS:  # one store per backend, many filters
        got = set(names(ml.search_runs("search", filter=text)))
        assert got == expected(predicate), text


def test_order_by_several_keys(any_store, populated) -> None:
    frame = ml.search_runs("search", order_by=["params.model asc", "metrics.auc desc"])
    want = sorted(SPECS, key=lambda s: (s.model, -s.auc))
    assert names(frame) == [s.name for s in want]
    frame = ml.search_runs("search", order_by="tags.team desc, metrics.loss asc")
    want = sorted(SPECS, key=lambda s: s.loss)
    want = sorted(want, key=lambda s: s.team, reverse=True)
    assert names(frame) == [s.name for s in want]


def test_limit_and_offset_page_through_everything(populated) -> None:
    pages = []
    for offset in range(0, 10, 3):
        page = ml.search_runs("search", order_by="metrics.auc desc", limit=3, offset=offset)
        assert len(page) <= 3
        pages.append(names(page))
    flat = [name for page in pages for name in page]
    assert len(flat) == len(set(flat)) == len(SPECS)  # disjoint and complete
    assert flat == [s.name for s in sorted(SPECS, key=lambda s: -s.auc)]


def test_default_order_pages_are_disjoint_too(populated) -> None:
    seen = []
    for offset in range(0, len(SPECS), 2):
        seen += names(ml.search_runs("search", limit=2, offset=offset))
    assert sorted(seen) == sorted(s.name for s in SPECS)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (5, -1)])
def test_bad_page_arguments_are_refused(limit, offset) -> None:
    with pytest.raises(InvalidInput):
        ml.search_runs(limit=limit, offset=offset)


@pytest.mark.parametrize(
    ("text", "offender"),
    [
        ("metrics.auc > 0.5 params.model = 'rf'", "params.model"),
        ("metrics.auc >> 0.5", ">>"),
        ("metrics.auc > 0.5 and (params.model = 'rf'", "("),
        ("metric.auc > 0.5", "metric.auc"),
        ("metrics.auc > 'high'", "'high'"),
    ],
)
def test_syntax_error_points_a_caret_at_the_offending_token(text, offender) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        ml.search_runs(filter=text)
    error = caught.value
    lines = str(error).splitlines()
    caret_line = next(line for line in lines if line.strip() == "^")
    text_line = lines[lines.index(caret_line) - 1]
    column = caret_line.index("^")
    assert text_line[column:].startswith(offender), str(error)
    assert error.position == text.index(offender)


def test_bad_order_by_is_a_syntax_error() -> None:
    with pytest.raises(FilterSyntaxError, match=r"\^"):
        ml.search_runs(order_by="metrics.auc sideways")


INJECTIONS = [
    "params.model = \"rf' OR '1'='1\"",
    'params.model = "x\'; DROP TABLE runs; --"',
    'tags.team = "\'; DELETE FROM params; --"',
    "params.`model' OR 1=1; DROP TABLE runs; --` = 'rf'",
    "metrics.auc > 0 and params.model = 'rf\\' OR 1=1 --'",
]


def test_injection_like_values_match_nothing_and_harm_nothing(
    any_store, populated, count_rows
) -> None:
    runs_before = count_rows("runs")
    params_before = count_rows("params")
    for text in INJECTIONS:
        assert ml.search_runs("search", filter=text).empty, text
    assert count_rows("runs") == runs_before
    assert count_rows("params") == params_before
    assert len(ml.search_runs("search")) == len(SPECS)


def test_nan_metrics_never_match_comparisons_but_inf_does(any_store) -> None:
    values = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "one": 1.0}
    for name, value in values.items():
        with ml.start_run(experiment="odd", name=name) as run:
            run.log_metric("x", value)
    assert set(names(ml.search_runs("odd", filter="metrics.x > 0"))) == {"inf", "one"}
    assert set(names(ml.search_runs("odd", filter="metrics.x < 0"))) == {"ninf"}
    assert names(ml.search_runs("odd", filter="metrics.x = 1")) == ["one"]
    frame = ml.search_runs("odd").set_index("name")
    assert math.isnan(frame.loc["nan", "metrics.x"])
    assert frame.loc["inf", "metrics.x"] == math.inf
    assert frame.loc["ninf", "metrics.x"] == -math.inf
    ordered = names(ml.search_runs("odd", order_by="metrics.x desc"))
    assert ordered == ["inf", "one", "ninf", "nan"]  # NaN sorts last


def test_missing_key_never_matches_a_comparison(populated) -> None:
    with ml.start_run(experiment="search", name="bare"):
        pass
    assert "bare" not in names(ml.search_runs("search", filter="metrics.auc < 10"))
    assert "bare" not in names(ml.search_runs("search", filter="params.model != 'rf'"))
    assert names(ml.search_runs("search", filter="params.model IS NULL")) == ["bare"]


def test_status_attribute_finds_failed_runs(populated) -> None:
    with pytest.raises(RuntimeError), ml.start_run(experiment="search", name="broken"):
        raise RuntimeError("x")
    assert names(ml.search_runs("search", filter="attributes.status = 'FAILED'")) == ["broken"]
