"""The run search filter language: text -> a small, typed AST of frozen dataclasses.

MLflow's filter language has no ``or`` and no parentheses; this one has both, plus
``IS [NOT] NULL`` and ``NOT IN``. Types are checked here, before any SQL exists, so a
mistake is reported with a caret under the offending token and a hint of what to write.
Pure and stdlib-only: the server, the CLI and the UI can all validate a filter cheaply.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loopml.errors import FilterSyntaxError
from loopml.store.filter_ast import (
    NUMERIC_ATTRIBUTES,
    TEXT_ATTRIBUTES,
    And,
    Comparison,
    Expr,
    InList,
    IsNull,
    Key,
    Kind,
    Or,
    OrderKey,
    Value,
)

PREFIXES: dict[str, Kind] = {"metrics": "metrics", "params": "params", "tags": "tags"}
PREFIXES |= {"attributes": "attributes", "attr": "attributes", "run": "attributes"}
ATTRIBUTE_ALIASES = {"run_name": "name"}
ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
_OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">"}
_OPERATORS[">="] = ">="
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "like", "ilike", "asc", "desc"})
_QUOTED = r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"'
_TOKEN = re.compile(
    rf"""(?P<space>\s+)
    |(?P<key>[A-Za-z_]\w*\.(?P<name>`(?:[^`\\]|\\.)*`|{_QUOTED}|[\w\-./:]+))
    |(?P<word>[A-Za-z_]\w*)
    |(?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<string>{_QUOTED})
    |(?P<op>[=!<>]+)
    |(?P<punct>[(),])""",
    re.VERBOSE | re.ASCII | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "`": "`"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Token:
    kind: str  # key word number string op ( ) , end
    text: str  # exactly as written
    position: int
    value: str = ""  # decoded string, lowercased word, canonical op, key name
    key_position: int = 0


def parse_filter(text: str | None) -> Expr | None:
    """Parse a filter; None or blank means "every run"."""
    if text is None or not text.strip():
        return None
    try:
        parser = _Parser(text)
        expr = parser.or_expr()
        parser.expect_end()
    except _Error as error:
        raise _syntax_error(error, text) from None
    return expr


def parse_order_by(items: str | Sequence[str] | None) -> list[OrderKey]:
    """Parse ``"metrics.auc desc, params.model"`` (or a list of such strings)."""
    if items is None:
        return []
    keys: list[OrderKey] = []
    for item in [items] if isinstance(items, str) else items:
        try:
            keys.extend(_Parser(item).order_keys() if item.strip() else [])
        except _Error as error:
            raise _syntax_error(error, item) from None
    return keys


class _Error(Exception):
    """Raised inside the parser; the public functions add the text and the caret."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message, self.position = message, position


def _syntax_error(error: _Error, text: str) -> FilterSyntaxError:
    one_line = text.replace("\n", " ").replace("\t", " ")  # keeps the caret aligned
    return FilterSyntaxError(error.message, one_line, error.position)


def _tokens(text: str) -> Iterator[_Token]:
    """Split the text; a ``prefix.key`` pair (bare or quoted key) is one token."""
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None or (m.lastgroup == "word" and text.startswith(".", m.end())):
            raise _lexical_error(text, i)
        kind, source = m.lastgroup or "", m.group()
        if kind == "op" and source not in _OPERATORS:
            raise _Error(f"unknown operator {source!r}: use = != < <= > >= LIKE IN", i)
        if kind == "key":
            name = _unquote(m["name"]) if m["name"][0] in '`"' else m["name"]
            yield _Token("key", source, i, name, m.start("name"))
        elif kind == "string":
            yield _Token(kind, source, i, _unquote(source))
        elif kind in {"word", "op"}:
            yield _Token(kind, source, i, _OPERATORS.get(source, source.lower()))
        elif kind != "space":
            yield _Token(source if kind == "punct" else kind, source, i, source)
        i = m.end()
    yield _Token("end", "", len(text))


def _unquote(quoted: str) -> str:
    r"""Strip the quotes and decode escapes; unknown escapes stay (LIKE's ``\%``)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), quoted[1:-1], flags=re.S)


def _lexical_error(text: str, i: int) -> _Error:
    if text[i] in "'\"":
        return _Error(f"unterminated string: add the closing {text[i]}", i)
    if word := re.match(r"[A-Za-z_]\w*\.", text[i:], re.A):
        after = i + word.end()
        if after < len(text) and text[after] in '`"':
            return _Error(f"unterminated key: add the closing {text[after]}", after)
        prefix = word.group()[:-1]
        return _Error(f"expected a key after '{prefix}.', e.g. {prefix}.auc", after)
    if text[i] == "`":
        return _Error("backticks quote a key after its prefix, e.g. metrics.`my key`", i)
    hint = ": quote such keys, e.g. metrics.`précision`" if text[i].isalpha() else ""
    return _Error(f"unexpected character {text[i]!r}{hint}", i)


def _resolve_key(token: _Token) -> Key:
    """Map a ``prefix.key`` token to a Key, suggesting the closest valid spelling."""
    prefix = token.text.split(".", 1)[0]
    kind = PREFIXES.get(prefix.lower())
    if kind is None:
        close = difflib.get_close_matches(prefix.lower(), list(PREFIXES), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}.'?" if close else "use metrics. params. tags. attributes."
        raise _Error(f"unknown key prefix '{prefix}.': {hint}", token.position)
    if not token.value:
        raise _Error("a key cannot be empty", token.key_position)
    if kind != "attributes":
        return Key(kind, token.value, token.position)
    name = ATTRIBUTE_ALIASES.get(token.value.lower(), token.value.lower())
    if name not in NUMERIC_ATTRIBUTES | TEXT_ATTRIBUTES:
        valid = sorted(NUMERIC_ATTRIBUTES | TEXT_ATTRIBUTES | set(ATTRIBUTE_ALIASES))
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        message = f"unknown attribute '{token.value}': {hint}valid: {', '.join(valid)}"
        raise _Error(message, token.key_position)
    return Key("attributes", name, token.position)


def _coerce(key: Key, op: str, token: _Token) -> Value:
    """Give a literal the key's type, or explain why the comparison cannot work."""
    label, at = f"{key.kind}.{key.name}", token.position
    if key.is_numeric:
        return Value(_number(key, token), token.text, at)
    if token.kind == "number" and op in ORDERING_OPS:
        raise _Error(
            f"{label} is stored as text, so {op} {token.text} would compare strings: quote the"
            " value to compare text, or log it as a metric to compare numbers",
            at,
        )
    if op in {"LIKE", "ILIKE"} and re.search(r"(?<!\\)(\\\\)*\\$", token.value):
        raise _Error("a LIKE pattern cannot end with a lone backslash (it escapes)", at)
    return Value(token.value, token.text, at)  # a number's value is its source text


def _number(key: Key, token: _Token) -> float | int:
    integer = re.fullmatch(r"-?\d+", token.value) is not None
    if token.kind == "number":
        return int(token.value) if integer and key.kind == "attributes" else float(token.value)
    if key.name in {"start_time", "end_time"}:
        return _iso_to_ms(token)
    if integer and key.kind == "attributes":
        return int(token.value)  # attributes.experiment_id = '3', as MLflow users write it
    raise _Error(f"{key.kind}.{key.name} is a number: compare it with a number", token.position)


def _iso_to_ms(token: _Token) -> int:
    """``'2026-11-01'`` or ``'2026-11-01T12:00:00+02:00'`` -> epoch ms; naive means UTC."""
    try:
        moment = datetime.fromisoformat(token.value)
    except ValueError:
        raise _Error("expected epoch ms or an ISO date like '2026-11-01'", token.position) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


class _Parser:
    """Recursive descent: ``or`` over ``and`` over (parenthesised | predicate)."""

    def __init__(self, text: str) -> None:
        self.tokens, self.i = list(_tokens(text)), 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += token.kind != "end"
        return token

    def at_word(self, *words: str) -> bool:
        return self.peek().kind == "word" and self.peek().value in words

    def skip_word(self, word: str) -> bool:
        found = self.at_word(word)
        self.i += found
        return found

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind == ")":
            raise _Error("unmatched ')': remove it or add a '(' before", token.position)
        if token.kind != "end":
            raise _Error(
                f"unexpected {token.text!r}: join conditions with 'and' / 'or'", token.position
            )

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.skip_word("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.term()]
        while self.skip_word("and"):
            items.append(self.term())
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self) -> Expr:
        opening = self.peek()
        if opening.kind != "(":
            return self.predicate()
        self.next()
        inner, close = self.or_expr(), self.next()
        if close.kind == "end":
            raise _Error("unclosed '(': add a ')'", opening.position)
        if close.kind != ")":
            raise _Error(f"expected 'and', 'or' or ')', found {close.text!r}", close.position)
        return inner

    def key(self, example: str) -> Key:
        token = self.next()
        if token.kind == "key":
            return _resolve_key(token)
        if token.kind == "word" and token.value not in _KEYWORDS:
            t = token.text
            message = f"a key needs a prefix: metrics.{t}, params.{t}, tags.{t} or attributes.{t}"
            raise _Error(message, token.position)
        found = "nothing" if token.kind == "end" else repr(token.text)
        raise _Error(f"expected {example}, found {found}", token.position)

    def predicate(self) -> Expr:
        key, op = self.key("a condition like metrics.auc > 0.8"), self.next()
        if op.kind == "op" or (op.kind == "word" and op.value in {"like", "ilike"}):
            name = op.value.upper()
            if key.is_numeric and name in {"LIKE", "ILIKE"}:
                message = f"{name} compares text, but {key.kind}.{key.name} is a number"
                raise _Error(message, op.position)
            return Comparison(key, name, _coerce(key, name, self.value(op)))
        if op.kind == "word" and op.value == "not" and not self.at_word("in"):
            raise _Error("'not' is only supported in NOT IN and IS NOT NULL", op.position)
        if op.kind == "word" and op.value in {"in", "not"}:
            negated = op.value == "not" and self.skip_word("in")
            return InList(key, self.value_list(key), negated)
        if op.kind == "word" and op.value == "is":
            negated = self.skip_word("not")
            if not self.skip_word("null"):
                raise _Error("expected NULL after IS / IS NOT", self.peek().position)
            return IsNull(key, negated)
        found = "nothing" if op.kind == "end" else repr(op.text)
        raise _Error(
            f"expected an operator (= != < > LIKE IN IS NULL...), found {found}", op.position
        )

    def value(self, after: _Token) -> _Token:
        token = self.next()
        if token.kind in {"number", "string"}:
            return token
        if token.kind == "end":
            raise _Error(f"missing value after {after.text!r}", token.position)
        if token.kind == "word" and token.value == "null":
            raise _Error("to test for a missing key use IS NULL / IS NOT NULL", after.position)
        hint = f": quote text, e.g. '{token.text}'" if token.kind == "word" else ""
        raise _Error(f"expected a number or a quoted string{hint}", token.position)

    def value_list(self, key: Key) -> tuple[Value, ...]:
        opening = self.next()
        if opening.kind != "(":
            raise _Error("IN needs a parenthesised list, e.g. IN ('a', 'b')", opening.position)
        if self.peek().kind == ")":
            raise _Error("empty IN list: give at least one value", opening.position)
        values = [_coerce(key, "=", self.value(opening))]
        while (token := self.next()).kind == ",":
            values.append(_coerce(key, "=", self.value(token)))
        if token.kind == "end":
            raise _Error("unclosed '(': add a ')'", opening.position)
        if token.kind != ")":
            raise _Error(f"expected ',' or ')' in the IN list, found {token.text}", token.position)
        return tuple(values)

    def order_keys(self) -> list[OrderKey]:
        keys = []
        while True:
            key = self.key("a key like metrics.auc")
            descending = self.next().value == "desc" if self.at_word("asc", "desc") else False
            keys.append(OrderKey(key, descending))
            token = self.next()
            if token.kind == "end":
                return keys
            if token.kind != ",":
                raise _Error(f"expected ASC, DESC or ',', found {token.text!r}", token.position)
