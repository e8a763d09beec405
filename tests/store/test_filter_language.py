"""The search filter language: what parses to what, and where each mistake is pointed at."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import FilterSyntaxError, InvalidInput
from loopml.store.filter_language import (
    And,
    Comparison,
    InList,
    IsNull,
    Key,
    Or,
    OrderKey,
    Value,
    parse_filter,
    parse_order_by,
)

AUC = Key("metrics", "auc")
MODEL = Key("params", "model")


def cmp(kind: str, name: str, op: str, value: object) -> Comparison:
    return Comparison(Key(kind, name), op, Value(value))  # type: ignore[arg-type]


def test_blank_filter_means_every_run() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   \n ") is None


def test_and_binds_tighter_than_or() -> None:
    a, b, c = "metrics.a > 1", "metrics.b > 2", "metrics.c > 3"
    ea, eb, ec = (cmp("metrics", n, ">", v) for n, v in (("a", 1.0), ("b", 2.0), ("c", 3.0)))
    assert parse_filter(f"{a} or {b} and {c}") == Or((ea, And((eb, ec))))
    assert parse_filter(f"{a} and {b} or {c}") == Or((And((ea, eb)), ec))
    assert parse_filter(f"({a} or {b}) and {c}") == And((Or((ea, eb)), ec))
    assert parse_filter(f"{a} AND {b} AND {c}") == And((ea, eb, ec))
    assert parse_filter(f"((({a})))") == ea


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.val/loss", Key("metrics", "val/loss")),
        ("params.model.C", Key("params", "model.C")),
        ("params.a-b:c_1", Key("params", "a-b:c_1")),
        ("metrics.`précision`", Key("metrics", "précision")),
        ("metrics.`my key`", Key("metrics", "my key")),
        ('params."a b"', Key("params", "a b")),
        ("tags.`with \\` tick`", Key("tags", "with ` tick")),
        ("attributes.status", Key("attributes", "status")),
        ("attr.run_name", Key("attributes", "name")),
        ("run.Start_Time", Key("attributes", "start_time")),
    ],
)
def test_keys_bare_dotted_and_quoted(text: str, key: Key) -> None:
    expr = parse_filter(f"{text} IS NOT NULL")
    assert expr == IsNull(key, negated=True)


@pytest.mark.parametrize(
    ("op_text", "op"),
    [("=", "="), ("==", "="), ("!=", "!="), ("<>", "!="), ("<", "<"), ("<=", "<=")]
    + [(">", ">"), (">=", ">="), ("like", "LIKE"), ("ILike", "ILIKE")],
)
def test_operators_and_their_aliases(op_text: str, op: str) -> None:
    assert parse_filter(f"tags.t {op_text} 'x'") == cmp("tags", "t", op, "x")


@pytest.mark.parametrize(
    ("literal", "number"),
    [("3", 3.0), ("-3", -3.0), ("0.25", 0.25), (".5", 0.5), ("1e3", 1000.0), ("-2.5E-2", -0.025)],
)
def test_numbers_against_metrics_are_floats(literal: str, number: float) -> None:
    assert parse_filter(f"metrics.auc>{literal}") == Comparison(AUC, ">", Value(number))


def test_strings_quotes_and_escapes() -> None:
    assert parse_filter("params.model = 'it\\'s'") == Comparison(MODEL, "=", Value("it's"))
    assert parse_filter('params.model = "say \\"hi\\""') == Comparison(
        MODEL, "=", Value('say "hi"')
    )
    assert parse_filter(r"params.model = 'a\\b\n'") == Comparison(MODEL, "=", Value("a\\b\n"))
    # an unknown escape is kept, so LIKE patterns can escape % and _
    assert parse_filter(r"params.model LIKE '50\%'") == Comparison(MODEL, "LIKE", Value("50\\%"))


def test_number_against_param_matches_its_source_text() -> None:
    assert parse_filter("params.n_estimators = 200") == cmp("params", "n_estimators", "=", "200")
    assert parse_filter("params.lr = 0.10") == cmp("params", "lr", "=", "0.10")
    assert parse_filter("tags.v IN (1, 2.50)") == InList(
        Key("tags", "v"), (Value("1"), Value("2.50"))
    )


def test_in_not_in_and_null_tests() -> None:
    assert parse_filter("params.model in ('rf', \"svm\")") == InList(
        MODEL, (Value("rf"), Value("svm"))
    )
    assert parse_filter("params.model NOT IN ('rf')") == InList(MODEL, (Value("rf"),), True)
    assert parse_filter("metrics.auc is null") == IsNull(AUC)
    assert parse_filter("metrics.auc IS NOT NULL") == IsNull(AUC, negated=True)


def test_attribute_types() -> None:
    start = Key("attributes", "start_time")
    assert parse_filter("attributes.start_time > 1700000000000") == Comparison(
        start, ">", Value(1700000000000)
    )
    assert parse_filter("attributes.start_time > '2026-11-01'") == Comparison(
        start, ">", Value(1793491200000)
    )
    assert parse_filter("attributes.start_time > '2026-11-01T02:00:00+02:00'") == Comparison(
        start, ">", Value(1793491200000)
    )
    assert parse_filter("attributes.experiment_id = '3'") == cmp(
        "attributes", "experiment_id", "=", 3
    )
    assert parse_filter("attributes.seed in (1, 2)") == InList(
        Key("attributes", "seed"), (Value(1), Value(2))
    )
    assert parse_filter("attributes.status = 'FINISHED'") == cmp(
        "attributes", "status", "=", "FINISHED"
    )
    value = parse_filter("attributes.seed = 7").value  # type: ignore[union-attr]
    assert type(value.value) is int


def test_literal_keeps_its_source_text_and_position() -> None:
    expr = parse_filter("params.n = 0.10")
    assert isinstance(expr, Comparison)
    assert (expr.value.text, expr.value.position, expr.key.position) == ("0.10", 11, 0)


ERRORS = [
    # (filter, caret position, words the message must contain)
    ("metric.auc > 1", 0, "did you mean 'metrics.'"),
    ("param.model = 'rf'", 0, "did you mean 'params.'"),
    ("attributes.colour = 'x'", 11, "unknown attribute"),
    ("attributes.statsu = 'x'", 11, "did you mean 'status'"),
    ("metrics.auc >", 13, "missing value"),
    ("metrics.auc > and metrics.b > 1", 14, "expected a number or a quoted string"),
    ("params.model = rf", 15, "quote text"),
    ("params.model = 'rf", 15, "unterminated string"),
    ('params.model = "rf', 15, "unterminated string"),
    ("metrics.`auc > 1", 8, "unterminated key"),
    ("(metrics.auc > 1", 0, "unclosed '('"),
    ("((metrics.auc > 1) or metrics.b > 2", 0, "unclosed '('"),
    ("metrics.auc > 1)", 15, "unmatched ')'"),
    ("metrics.auc > 1 metrics.b > 2", 16, "join conditions with 'and' / 'or'"),
    ("metrics.auc > 1 and", 19, "expected a condition"),
    ("params.model IN ()", 16, "empty IN list"),
    ("params.model IN 'rf'", 16, "parenthesised list"),
    ("params.model IN ('a', 'b'", 16, "unclosed '('"),
    ("params.model IN ('a' 'b')", 21, "expected ',' or ')'"),
    ("metrics.auc => 1", 12, "unknown operator"),
    ("metrics.auc ~ 1", 12, "unexpected character"),
    ("metrics.précision > 1", 10, "metrics.`précision`"),
    ("metrics.auc 1", 12, "expected an operator"),
    ("metrics.auc", 11, "expected an operator"),
    ("params.model NOT LIKE 'a'", 13, "only supported in NOT IN"),
    ("metrics.auc IS 1", 15, "expected NULL"),
    ("params.model = null", 13, "IS NULL"),
    ("metrics.auc = 'high'", 14, "is a number"),
    ("metrics.auc IN (1, 'x')", 19, "is a number"),
    ("metrics.auc LIKE '1%'", 12, "LIKE compares text"),
    ("params.n_estimators > 100", 22, "stored as text"),
    ("tags.n <= 1", 10, "log it as a metric"),
    ("attributes.start_time > 'yesterday'", 24, "ISO date"),
    ("attributes.seed = 'abc'", 18, "is a number"),
    ("auc > 1", 0, "metrics.auc"),
    ("metrics. > 1", 8, "expected a key after 'metrics.'"),
    ("metrics.`` > 1", 8, "cannot be empty"),
    ("`auc` > 1", 0, "backticks quote a key"),
    ("'metrics.auc' > 1", 0, "expected a condition"),
    ("params.p LIKE 'a\\\\'", 14, "lone backslash"),
]


@pytest.mark.parametrize(("text", "position", "words"), ERRORS)
def test_errors_point_at_the_offending_token(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert error.position == position
    assert words in str(error)
    message_line, text_line, caret_line = str(error).splitlines()
    assert text_line == f"  {text}"
    assert caret_line == " " * (2 + position) + "^"
    assert isinstance(error, InvalidInput)  # the server maps it to a 400


def test_caret_stays_aligned_in_a_multiline_filter() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.auc > 1\n\tand metric.loss < 2")
    assert caught.value.position == 21
    assert str(caught.value).splitlines()[-1] == " " * 23 + "^"


def test_order_by_forms() -> None:
    auc_desc = OrderKey(AUC, descending=True)
    assert parse_order_by(None) == []
    assert parse_order_by("") == []
    assert parse_order_by("metrics.auc DESC") == [auc_desc]
    assert parse_order_by(["metrics.auc desc", "params.model"]) == [auc_desc, OrderKey(MODEL)]
    assert parse_order_by("metrics.auc desc, params.model asc, attr.start_time") == [
        auc_desc,
        OrderKey(MODEL),
        OrderKey(Key("attributes", "start_time")),
    ]
    assert parse_order_by("metrics.`a b` desc") == [OrderKey(Key("metrics", "a b"), True)]


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("metrics.auc down", 12, "expected ASC, DESC or ','"),
        ("metrics.auc desc desc", 17, "expected ASC, DESC or ','"),
        ("metrics.auc,", 12, "expected a key"),
        ("metric.auc", 0, "did you mean 'metrics.'"),
        ("attributes.nope desc", 11, "unknown attribute"),
        ("auc desc", 0, "metrics.auc"),
    ],
)
def test_order_by_errors(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_order_by(["metrics.auc", text])
    assert caught.value.position == position
    assert words in str(caught.value)
    assert caught.value.text == text


def _quote(text: str, quote: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


@given(st.text(), st.sampled_from(["'", '"']))
def test_any_string_round_trips_through_quoting(value: str, quote: str) -> None:
    assert parse_filter(f"tags.t = {_quote(value, quote)}") == cmp("tags", "t", "=", value)


@given(st.text(min_size=1), st.sampled_from(["`", '"']))
def test_any_key_round_trips_through_quoting(name: str, quote: str) -> None:
    expr = parse_filter(f"params.{_quote(name, quote)} = 'x'")
    assert expr == cmp("params", name, "=", "x")
