"""MLflow's search filter grammar, parsed into a small tree; extended with OR, NOT and parentheses.

    metrics.rmse < 0.8 and params.model = 'rf'
    (tags.team = 'ml' OR tags.team IS NULL) AND NOT attributes.status = 'FAILED'
    metrics.`val loss` <= 1e-3 AND params.depth IN (3, 5) AND attributes.run_name LIKE 'sweep-%'

Keys are typed: metrics compare with numbers; params and tags with strings (or with numbers,
numerically); attributes by their kind (strings, times, booleans). A mistake raises
``FilterSyntaxError`` naming the position and the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gittrack._search.rows import ATTRIBUTE, DATASET, DATASET_FIELDS, METRIC, PARAM, TAG
from gittrack.errors import FilterSyntaxError

PREFIXES = {
    "metric": METRIC, "metrics": METRIC,
    "param": PARAM, "params": PARAM, "parameter": PARAM, "parameters": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE, "run": ATTRIBUTE,
    "dataset": DATASET, "datasets": DATASET,
}  # fmt: skip
STRING, TIME, BOOL = "string", "time", "bool"
ATTRIBUTES = {
    "run_id": STRING, "run_name": STRING, "experiment": STRING, "status": STRING, "user": STRING,
    "source_commit": STRING, "source_branch": STRING, "parent_run_id": STRING, "host": STRING,
    "start_time": TIME, "end_time": TIME, "dirty": BOOL, "artifact_uri": STRING,
}  # fmt: skip
ATTRIBUTE_ALIASES = {
    "user_id": "user", "experiment_name": "experiment", "created": "start_time", "run name": "run_name",
    "run_uuid": "run_id", "parent_run": "parent_run_id",
}  # fmt: skip
# MLflow's system tags that are attributes of every gittrack run
SYSTEM_TAGS = {
    "mlflow.runName": "run_name", "mlflow.user": "user", "mlflow.parentRunId": "parent_run_id",
    "mlflow.source.git.commit": "source_commit", "mlflow.source.git.branch": "source_branch",
}  # fmt: skip
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Comparison:
    """``<kind>.<key> <op> <value>``; ``op`` is a comparison, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL."""

    kind: str
    key: str
    op: str
    value: Any = None
    numeric: bool = False


@dataclass(frozen=True)
class And:
    """All of ``items``."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    """Any of ``items``."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    """Not ``item``."""

    item: Any


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, number, op, lparen, rparen, comma, word, end
    text: str
    value: Any
    pos: int


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<ident>(?:[A-Za-z_]+|`[A-Za-z_]+`)\.(?:`[^`]*`|"[^"]*"|[\w.\-/:]+))
    |(?P<bare>`[^`]*`)
    |(?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    |(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
    |(?P<op>==|!=|<>|<=|>=|=|<|>)
    |(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
    |(?P<word>[A-Za-z_][\w.]*)""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[_Token]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 10]
            if text[pos] in "'\"":
                raise FilterSyntaxError(f"filter: unterminated quote at position {pos} ({snippet!r})")
            raise FilterSyntaxError(f"filter: unexpected {snippet!r} at position {pos}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        raw = match.group()
        if kind == "string":
            out.append(_Token("string", raw, raw[1:-1].replace(raw[0] * 2, raw[0]), pos))
        elif kind == "number":
            out.append(_Token("number", raw, float(raw), pos))
        elif kind == "op":
            out.append(_Token("op", raw, {"==": "=", "<>": "!="}.get(raw, raw), pos))
        elif kind == "word":
            out.append(_Token("word", raw, raw.upper(), pos))
        elif kind == "bare":
            out.append(_Token("bare", raw, raw[1:-1], pos))
        elif kind != "ws":
            out.append(_Token(kind, raw, raw, pos))
        pos = match.end()
    out.append(_Token("end", "end of filter", None, len(text)))
    return out


def parse_identifier(text: str, pos: int = 0, what: str = "filter") -> tuple[str, str]:
    """Split ``metrics.rmse`` (or ``params.`a b```, ``attributes.status``, ```metric`.x``) into (kind, key);
    ``tags.mlflow.runName`` and MLflow's other system tags that gittrack keeps as attributes are those."""
    if text.startswith("`"):
        end = text.find("`", 1)
        text = text[1:end] + text[end + 1 :]
    prefix, _, rest = text.partition(".")
    kind = PREFIXES.get(prefix.lower())
    if kind is None:
        valid = "metrics., params., tags., attributes."
        raise FilterSyntaxError(f"{what}: unknown column '{text}' at position {pos}; columns start with {valid}")
    key = rest[1:-1] if rest[:1] in '`"' and len(rest) >= 2 else rest
    if not key:
        raise FilterSyntaxError(f"{what}: column '{text}' at position {pos} has no key")
    if kind == TAG and key in SYSTEM_TAGS:
        return ATTRIBUTE, SYSTEM_TAGS[key]
    if kind == DATASET:
        if key not in DATASET_FIELDS:
            raise FilterSyntaxError(
                f"{what}: unknown dataset field '{key}' at position {pos}; they are name, digest, context"
            )
        return kind, key
    if kind == ATTRIBUTE:
        key = ATTRIBUTE_ALIASES.get(key.lower(), key)
        if key not in ATTRIBUTES:
            names = ", ".join(sorted(ATTRIBUTES))
            raise FilterSyntaxError(f"{what}: unknown attribute '{key}' at position {pos}; attributes are {names}")
    return kind, key


def bare_attribute(name: str) -> str | None:
    """The attribute an unprefixed name means, as MLflow allows (``status``, ``run_name``,
    ``Run name``, ``Created``), or None."""
    key = ATTRIBUTE_ALIASES.get(name.lower(), name)
    return key if key in ATTRIBUTES else None


MAX_FILTER_CHARS = 100_000
MAX_TERMS = 200  # comparisons in one filter: SQLite's expression trees stop at depth 1000
MAX_DEPTH = 50  # nested parentheses and NOTs


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.terms = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.value in words:
            self.i += 1
            return True
        return False

    def fail(self, expected: str) -> FilterSyntaxError:
        token = self.peek()
        return FilterSyntaxError(f"filter: expected {expected} at position {token.pos}, found '{token.text}'")

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail("AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.word("OR"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Any:
        items = [self.not_expr()]
        while self.word("AND"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(
                f"filter: nested more than {MAX_DEPTH} levels deep at position {self.peek().pos}; simplify it"
            )
        try:
            if self.word("NOT"):
                return Not(self.not_expr())
            if self.peek().kind == "lparen":
                self.take()
                node = self.or_expr()
                if self.take().kind != "rparen":
                    self.i -= 1
                    raise self.fail("')'")
                return node
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise FilterSyntaxError(
                    f"filter: more than {MAX_TERMS} comparisons (at position {self.peek().pos}); "
                    "use IN (...) lists or split the search"
                )
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> Comparison | Not:
        token = self.take()
        if token.kind == "ident":
            kind, key = parse_identifier(token.text, token.pos)
        elif token.kind in ("word", "bare") and (attribute := bare_attribute(token.text.strip("`"))) is not None:
            kind, key = ATTRIBUTE, attribute
        else:
            self.i -= 1
            raise self.fail("a column such as metrics.rmse, params.lr, tags.team or attributes.status")
        op_token = self.peek()
        if self.word("IS"):
            negate = self.word("NOT")
            if not self.word("NULL"):
                raise self.fail("NULL")
            return Comparison(kind, key, "IS NOT NULL" if negate else "IS NULL")
        negate = self.word("NOT")
        if self.word("IN"):
            return self._typed(kind, key, "NOT IN" if negate else "IN", self.value_list(), op_token)
        if self.word("LIKE", "ILIKE"):
            op = self.tokens[self.i - 1].value
            value = self.take()
            if value.kind != "string":
                self.i -= 1
                raise self.fail(f"a quoted pattern after {op}")
            node = self._typed(kind, key, op, value.value, op_token)
            return Not(node) if negate else node
        if negate:
            raise self.fail("IN, LIKE or ILIKE after NOT")
        op = self.take()
        if op.kind != "op":
            self.i -= 1
            raise self.fail("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL)")
        value = self.take()
        if value.kind not in ("string", "number") and not (value.kind == "word" and value.value in ("TRUE", "FALSE")):
            self.i -= 1
            raise self.fail("a number or a quoted string")
        literal = value.value == "TRUE" if value.kind == "word" else value.value
        return self._typed(kind, key, op.value, literal, op_token)

    def value_list(self) -> list[Any]:
        if self.take().kind != "lparen":
            self.i -= 1
            raise self.fail("'(' after IN")
        values: list[Any] = []
        while True:
            token = self.take()
            if token.kind not in ("string", "number"):
                self.i -= 1
                raise self.fail(
                    "a number or a quoted string in the IN list" if values else "a value (IN lists are not empty)"
                )
            values.append(token.value)
            sep = self.take()
            if sep.kind == "rparen":
                return values
            if sep.kind != "comma":
                self.i -= 1
                raise self.fail("',' or ')'")

    def _typed(self, kind: str, key: str, op: str, value: Any, at: _Token) -> Comparison:
        """Check the literal against the column's type; convert times and booleans."""
        values = value if isinstance(value, list) else [value]
        numbers = all(isinstance(v, float) for v in values)
        strings = all(isinstance(v, str) for v in values)
        where = f"at position {at.pos}"
        if isinstance(value, bool) and kind != METRIC:
            numbers = strings = True  # booleans are checked by the column's own rules below
        if kind == DATASET:
            if not strings or op not in ("=", "!=", "IN", "NOT IN", "LIKE", "ILIKE"):
                raise FilterSyntaxError(
                    f"filter: dataset.{key} {where} takes =, !=, IN, NOT IN, LIKE or ILIKE with quoted strings"
                )
            return Comparison(kind, key, op, _frozen(value))
        if op in ("LIKE", "ILIKE") and (kind == METRIC or (kind == ATTRIBUTE and ATTRIBUTES[key] != STRING)):
            raise FilterSyntaxError(f"filter: {op} {where} works on strings; {kind} '{key}' is not one")
        if not numbers and not strings:
            raise FilterSyntaxError(f"filter: the IN list {where} mixes numbers and strings")
        if kind == METRIC:
            if not numbers:
                raise FilterSyntaxError(f"filter: metrics.{key} compares with numbers, not {value!r} ({where})")
            return Comparison(kind, key, op, _frozen(value), numeric=True)
        if kind in (PARAM, TAG):
            if isinstance(value, bool):  # Python's str(True), as params logged from a bool are stored
                return Comparison(kind, key, op, str(value))
            if numbers:
                return Comparison(kind, key, op, _frozen(value), numeric=True)
            return Comparison(kind, key, op, _frozen(value))
        return self._attribute(key, op, value, values, numbers, strings, where)

    @staticmethod
    def _attribute(
        key: str, op: str, value: Any, values: list[Any], numbers: bool, strings: bool, where: str
    ) -> Comparison:
        kind = ATTRIBUTES[key]
        if kind == BOOL:
            if op not in ("=", "!=") or not isinstance(value, bool | float | str):
                raise FilterSyntaxError(f"filter: attributes.{key} is true or false; use = or != ({where})")
            truth = value if isinstance(value, bool) else str(value).lower() in ("true", "1", "1.0")
            return Comparison(ATTRIBUTE, key, op, truth)
        if kind == TIME:
            converted = [_time_ms(v, where) for v in values]
            return Comparison(ATTRIBUTE, key, op, _frozen(converted if isinstance(value, list) else converted[0]), True)
        if not strings:
            raise FilterSyntaxError(f"filter: attributes.{key} compares with quoted strings, not {value!r} ({where})")
        return Comparison(ATTRIBUTE, key, op, _frozen(value))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _time_ms(value: Any, where: str) -> float:
    """A time literal: epoch milliseconds, or an ISO 8601 date/time string (UTC unless it says)."""
    if isinstance(value, float):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FilterSyntaxError(f"filter: {value!r} {where} is not epoch milliseconds or an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def parse_filter(text: str | None) -> Any:
    """Parse a filter string; an empty or missing filter gives None (every run matches)."""
    if text is None or not text.strip():
        return None
    if not isinstance(text, str):
        raise FilterSyntaxError("filter must be a string")
    if len(text) > MAX_FILTER_CHARS:
        raise FilterSyntaxError(f"filter is {len(text)} characters long, over the {MAX_FILTER_CHARS} limit")
    return _Parser(text).parse()
