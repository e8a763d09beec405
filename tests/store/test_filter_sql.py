"""Filters and sort orders compiled to SQL, run against real SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import FilterSyntaxError
from loopml.store import tables
from loopml.store.filter_language import parse_filter, parse_order_by
from loopml.store.filter_sql import compile_filter, like_to_glob, order_by_clauses

NAN = float("nan")
INJECTION = "x' OR 1=1 --"


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


# run_id: (name, status, start, seed, params, metrics, tags)
RUNS = {
    "r1": ("rf-Big", "FINISHED", "2026-10-30", 1,
           {"model": "rf", "n_estimators": "200", "lr": "0.10"},
           {"auc": 0.9, "loss": 0.3, "tie": 1.0}, {"team": "Alpha"}),
    "r2": ("rf-small", "FINISHED", "2026-10-31T12:00", 2,
           {"model": "RF", "n_estimators": "100"},
           {"auc": 0.7, "loss": 0.5, "tie": 1.0}, {"team": "alpha"}),
    "r3": ("svm", "FAILED", "2026-11-01", None,
           {"model": "svm", "C": "1.0"},
           {"auc": NAN, "loss": 0.4, "tie": 1.0}, {"team": "beta", "note": "50% done"}),
    "r4": (None, "RUNNING", "2026-11-02", 7,
           {"n_estimators": "200"},
           {"loss": 0.2}, {"team": "a_b", "expr": "a*b[1]?"}),
    "r5": ("50% off", "FINISHED", "2026-11-03", None,
           {"model": INJECTION, "n_estimators": "50"},
           {"auc": 0.95}, {"team": "gamma", "expr": "aXb1Z"}),
    "r6": ("Ünïcode", "FINISHED", "2026-11-03", None, {}, {}, {"team": "axb"}),
}  # fmt: skip


def insert_runs(conn: sa.Connection, runs: dict) -> None:
    conn.execute(
        tables.experiments.insert(), [{"experiment_id": 1, "name": "e", "created_time": 0}]
    )
    for run_id, (name, status, start, seed, params, metrics, tags) in runs.items():
        conn.execute(
            tables.runs.insert(),
            [{"run_id": run_id, "experiment_id": 1, "name": name, "status": status,
              "start_time": ms(start), "seed": seed}],
        )  # fmt: skip
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()]
        if rows:
            conn.execute(tables.params.insert(), rows)
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
        if rows:
            conn.execute(tables.tags.insert(), rows)
        rows = [
            {"run_id": run_id, "key": k, "value": None if v != v else v, "is_nan": v != v,
             "step": 0, "timestamp": 0}
            for k, v in metrics.items()
        ]  # fmt: skip
        if rows:
            conn.execute(tables.latest_metrics.insert(), rows)


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(store_url)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        insert_runs(conn, RUNS)
    yield engine
    engine.dispose()


def search(engine: sa.Engine, filter: str | None = None, order_by: str | None = None) -> list:
    query = sa.select(tables.runs.c.run_id)
    expr = parse_filter(filter)
    if expr is not None:
        query = query.where(compile_filter(expr))
    query = query.order_by(*order_by_clauses(parse_order_by(order_by)))
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def matches(engine: sa.Engine, filter: str) -> set[str]:
    return set(search(engine, filter))


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("metrics.auc > 0.8", {"r1", "r5"}),
        ("metrics.auc >= 0.7 and metrics.auc < 0.95", {"r1", "r2"}),
        ("metrics.auc != 0.9", {"r2", "r5"}),  # NaN (r3) and missing (r4, r6) never match
        ("metrics.auc < 100", {"r1", "r2", "r5"}),
        ("metrics.auc IN (0.9, 0.7)", {"r1", "r2"}),
        ("metrics.auc NOT IN (0.9)", {"r2", "r5"}),
        ("metrics.auc IS NULL", {"r4", "r6"}),
        ("metrics.auc IS NOT NULL", {"r1", "r2", "r3", "r5"}),  # a NaN was logged
        ("metrics.loss <= 0.3", {"r1", "r4"}),
    ],
)
def test_metric_filters(engine: sa.Engine, filter: str, expected: set[str]) -> None:
    assert matches(engine, filter) == expected


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("params.model = 'rf'", {"r1"}),
        ("params.model != 'rf'", {"r2", "r3", "r5"}),  # r4, r6 lack the param
        ("params.n_estimators = 200", {"r1", "r4"}),
        ("params.n_estimators = '200'", {"r1", "r4"}),
        ("params.lr = 0.10", {"r1"}),
        ("params.lr = 0.1", set()),  # text: the literal as written
        ("params.model IN ('rf', 'svm')", {"r1", "r3"}),
        ("params.model NOT IN ('rf', 'svm')", {"r2", "r5"}),
        ("params.model IS NULL", {"r4", "r6"}),
        ("params.model > 'm'", {"r1", "r3", "r5"}),  # code-point order: 'RF' < 'm' < 'rf'
        ("tags.team = 'alpha'", {"r2"}),
        ("tags.note IS NOT NULL", {"r3"}),
    ],
)
def test_param_and_tag_filters(engine: sa.Engine, filter: str, expected: set[str]) -> None:
    assert matches(engine, filter) == expected


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("params.model LIKE 'r%'", {"r1"}),  # case-sensitive on both dialects
        ("params.model LIKE 'R%'", {"r2"}),
        ("params.model ILIKE 'r%'", {"r1", "r2"}),
        ("tags.team LIKE '%lpha'", {"r1", "r2"}),
        ("tags.team ILIKE 'ALPHA'", {"r1", "r2"}),
        ("tags.team LIKE 'a_b'", {"r4", "r6"}),
        ("tags.team LIKE 'a\\_b'", {"r4"}),  # escaped _ is literal
        ("tags.note LIKE '50\\%%'", {"r3"}),
        ("tags.note LIKE '50\\%'", set()),
        ("tags.expr LIKE 'a*b[1]?'", {"r4"}),  # GLOB characters are literal
        ("tags.expr LIKE 'a*b%'", {"r4"}),
        ("tags.expr ILIKE 'A*B[1]_'", {"r4"}),
        ("attributes.name LIKE 'rf%'", {"r1", "r2"}),
        ("attributes.name ILIKE 'RF-B%'", {"r1"}),
        ("attributes.name LIKE '50\\% %'", {"r5"}),
    ],
)
def test_like_and_ilike(engine: sa.Engine, filter: str, expected: set[str]) -> None:
    assert matches(engine, filter) == expected


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("attributes.start_time >= '2026-11-01'", {"r3", "r4", "r5", "r6"}),
        ("attributes.start_time > '2026-11-01'", {"r4", "r5", "r6"}),
        ("attributes.start_time < '2026-11-01T00:00:00+01:00'", {"r1", "r2"}),
        (f"attributes.start_time = {ms('2026-11-02')}", {"r4"}),
        ("attributes.end_time IS NULL", set(RUNS)),
        ("attributes.status = 'FINISHED'", {"r1", "r2", "r5", "r6"}),
        ("attributes.status IN ('FAILED', 'RUNNING')", {"r3", "r4"}),
        ("attr.run_name = 'svm'", {"r3"}),
        ("run.name IS NULL", {"r4"}),
        ("attributes.seed IS NULL", {"r3", "r5", "r6"}),
        ("attributes.seed > 1.5", {"r2", "r4"}),  # not rounded to BIGINT on PostgreSQL
        ("attributes.seed IN (1, 7)", {"r1", "r4"}),
        ("attributes.seed NOT IN (1, 7)", {"r2"}),
        ("attributes.experiment_id = '1'", set(RUNS)),
        ("attributes.run_id IN ('r1', 'r9')", {"r1"}),
    ],
)
def test_attribute_filters(engine: sa.Engine, filter: str, expected: set[str]) -> None:
    assert matches(engine, filter) == expected


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("metrics.auc > 0.8 or params.model = 'svm'", {"r1", "r3", "r5"}),
        ("metrics.auc > 0.8 or params.model = 'svm' and tags.team = 'beta'", {"r1", "r3", "r5"}),
        ("(metrics.auc > 0.8 or params.model = 'svm') and tags.team = 'beta'", {"r3"}),
        ("(metrics.auc > 0.8 or params.model = 'svm') and tags.team != 'beta'", {"r1", "r5"}),
        ("metrics.auc IS NULL or metrics.auc < 0.8", {"r2", "r4", "r6"}),
        ("(tags.team ILIKE 'alpha' or tags.team = 'beta') and (metrics.loss > 0.35)",
         {"r2", "r3"}),
    ],
)  # fmt: skip
def test_or_and_parentheses(engine: sa.Engine, filter: str, expected: set[str]) -> None:
    assert matches(engine, filter) == expected


def test_injection_attempts_are_matched_literally(engine: sa.Engine) -> None:
    assert matches(engine, "params.model = 'x\\' OR 1=1 --'") == {"r5"}
    assert matches(engine, 'params.model = "x\' OR 1=1 --"') == {"r5"}
    assert matches(engine, "params.`model' OR 1=1 --` IS NOT NULL") == set()
    assert matches(engine, "params.model LIKE '%\\' OR \\'1\\'=\\'1'") == set()
    for text in ["tags.team = '' OR 1=1 --'", "params.model = 'rf'; DROP TABLE runs; --"]:
        with pytest.raises(FilterSyntaxError):  # SQL outside a literal is not the language
            parse_filter(text)
    with engine.connect() as conn:  # and nothing was dropped or changed
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.runs)).scalar() == 6


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["r5", "r6", "r4", "r3", "r2", "r1"]),  # start_time desc, then run_id
        ("metrics.auc desc", ["r5", "r1", "r2", "r6", "r4", "r3"]),  # NaN/missing last
        ("metrics.auc", ["r2", "r1", "r5", "r6", "r4", "r3"]),
        ("metrics.tie desc", ["r3", "r2", "r1", "r5", "r6", "r4"]),
        ("params.model", ["r2", "r1", "r3", "r5", "r6", "r4"]),  # code points: 'RF' < 'rf'
        ("params.model desc", ["r5", "r3", "r1", "r2", "r6", "r4"]),
        ("params.n_estimators desc, metrics.loss", ["r5", "r4", "r1", "r2", "r3", "r6"]),
        ("attributes.seed desc", ["r4", "r2", "r1", "r5", "r6", "r3"]),
        ("attributes.seed asc", ["r1", "r2", "r4", "r5", "r6", "r3"]),
        ("attributes.name", ["r5", "r1", "r2", "r3", "r6", "r4"]),
        ("attributes.start_time asc", ["r1", "r2", "r3", "r4", "r5", "r6"]),
        ("tags.team desc", ["r5", "r3", "r6", "r2", "r4", "r1"]),  # a_b < alpha < axb
    ],
)
def test_order_by(engine: sa.Engine, order_by: str | None, expected: list[str]) -> None:
    assert search(engine, order_by=order_by) == expected


def test_filter_and_order_together(engine: sa.Engine) -> None:
    found = search(engine, "metrics.loss IS NOT NULL or tags.team = 'gamma'", "metrics.loss desc")
    assert found == ["r2", "r3", "r1", "r4", "r5"]


def test_pages_neither_repeat_nor_skip(engine: sa.Engine) -> None:
    clauses = order_by_clauses(parse_order_by("metrics.tie desc"))
    pages = []
    with engine.connect() as conn:
        for offset in range(0, 6, 2):
            query = sa.select(tables.runs.c.run_id).order_by(*clauses).limit(2).offset(offset)
            pages += list(conn.execute(query).scalars())
    assert pages == search(engine, order_by="metrics.tie desc")
    assert sorted(pages) == sorted(RUNS)


def test_filter_and_order_hold_when_the_query_joins_a_key_table(engine: sa.Engine) -> None:
    """A caller may join params (say, to show a column); subqueries must not latch onto it."""
    params = tables.params
    query = (
        sa.select(tables.runs.c.run_id, params.c.value)
        .join(params, params.c.run_id == tables.runs.c.run_id)
        .where(params.c.key == "model")
        .where(compile_filter(parse_filter("params.n_estimators = 200 or params.C IS NOT NULL")))
        .order_by(*order_by_clauses(parse_order_by("params.n_estimators")))
    )
    with engine.connect() as conn:
        assert conn.execute(query).all() == [("r1", "rf"), ("r3", "svm")]


def _like_reference(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = re.sub(
        r"\\(.)|%|_|[^%_\\]",
        lambda m: re.escape(m[1]) if m[1] else {"%": ".*", "_": "."}.get(m[0], re.escape(m[0])),
        pattern,
        flags=re.S,
    )
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


PATTERN_CHARS = st.text(alphabet="aAbB%_\\*?[]^-", max_size=6)


def test_like_agrees_with_its_definition_on_both_dialects(engine: sa.Engine) -> None:
    """LIKE / ILIKE with random patterns, against a regex reference of what they mean."""

    @settings(max_examples=150, deadline=None)
    @given(PATTERN_CHARS, st.text(alphabet="aAbB%_\\*?[]^-", max_size=6), st.booleans())
    def check(pattern: str, value: str, ignore_case: bool) -> None:
        if re.search(r"(?<!\\)(\\\\)*\\$", pattern):
            return  # the parser rejects a trailing lone backslash
        quoted = "'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'"
        with engine.begin() as conn:
            conn.execute(tables.tags.update().where(tables.tags.c.run_id == "r6"), {"value": value})
        op = "ILIKE" if ignore_case else "LIKE"
        found = "r6" in matches(engine, f"tags.team {op} {quoted}")
        assert found == _like_reference(pattern, value, ignore_case), (pattern, value, op)

    check()


def test_like_to_glob_escapes_glob_syntax() -> None:
    assert like_to_glob("a%b_c") == "a*b?c"
    assert like_to_glob("*?[") == "[*][?][[]"
    assert like_to_glob("\\%\\_\\\\") == "%_\\"


@pytest.mark.slow
def test_search_speed_on_ten_thousand_runs(sqlite_url: str) -> None:
    """Not a timing assertion: prints the time of a typical search (target: well < 100 ms)."""
    engine = sa.create_engine(sqlite_url)
    tables.metadata.create_all(engine)
    rng = random.Random(0)
    run_ids = [f"{i:032x}" for i in range(10_000)]
    with engine.begin() as conn:
        conn.execute(tables.experiments.insert(), [{"name": "e", "created_time": 0}])
        conn.execute(
            tables.runs.insert(),
            [{"run_id": r, "experiment_id": 1, "status": "FINISHED", "start_time": i}
             for i, r in enumerate(run_ids)],
        )  # fmt: skip
        conn.execute(
            tables.params.insert(),
            [{"run_id": r, "key": f"p{k}", "value": rng.choice("abc")}
             for r in run_ids for k in range(5)],
        )  # fmt: skip
        conn.execute(
            tables.latest_metrics.insert(),
            [{"run_id": r, "key": f"m{k}", "value": rng.random(), "is_nan": False, "step": 0,
              "timestamp": 0} for r in run_ids for k in range(5)],
        )  # fmt: skip
    query = (
        sa.select(tables.runs)
        .where(compile_filter(parse_filter("metrics.m0 > 0.5 and params.p1 = 'a'")))
        .order_by(*order_by_clauses(parse_order_by("metrics.m2 desc")))
        .limit(1000)
    )
    timings = []
    with engine.connect() as conn:
        for _ in range(5):
            started = time.perf_counter()
            rows = conn.execute(query).all()
            timings.append(time.perf_counter() - started)
    print(f"\nsearch over 10,000 runs: {len(rows)} rows, median {sorted(timings)[2] * 1000:.1f} ms")
    assert len(rows) == 1000
    engine.dispose()
