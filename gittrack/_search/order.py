"""``order_by`` clauses: ``"metrics.rmse ASC"``, ``"params.lr DESC"``, ``"start_time"``...

The one parser of orderings (``search_runs`` and ``gittrack runs list -s``). A clause is a
column and an optional direction; anything else is a ``FilterSyntaxError`` naming the position,
so a typo (``DSC``) never silently gives another order. A key no run has sorts as missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gittrack._search.filter import bare_attribute, parse_identifier
from gittrack._search.rows import ATTRIBUTE
from gittrack.errors import FilterSyntaxError

_PREFIXED = re.compile(r"[A-Za-z_]+\.")
_KEY = re.compile(r"`[^`]*`|\"[^\"]*\"|[\w.\-/:]+")
_BARE = re.compile(r"[A-Za-z_]\w*")
_WORD = re.compile(r"\S+")
_FORM = "write '<column> [ASC|DESC]', a key with spaces in backticks (metrics.`val loss`)"


@dataclass(frozen=True)
class OrderKey:
    """One ordering column and its direction."""

    kind: str
    key: str
    descending: bool

    @property
    def column(self) -> str:
        """The column as a filter names it: ``metrics.rmse``, ``params.`a b```, ``attributes.status``."""
        key = self.key if re.fullmatch(r"[\w.\-/:]+", self.key) else f"`{self.key}`"
        return f"{self.kind}s.{key}"


def parse_order_by(clauses: list[str] | str | None) -> list[OrderKey]:
    """Parse order_by clauses; a bare attribute name (``start_time``) means ``attributes.<name>``."""
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    return [_clause(clause) for clause in clauses]


def _clause(clause: object) -> OrderKey:
    if not isinstance(clause, str):
        raise FilterSyntaxError(f"order_by: {clause!r} is not a string; {_FORM}")
    what = f"order_by {clause!r}"
    start = len(clause) - len(clause.lstrip())
    if start == len(clause):
        raise FilterSyntaxError(f"{what}: expected a column such as metrics.rmse; {_FORM}")
    prefix = _PREFIXED.match(clause, start)
    if prefix is not None:
        at = prefix.end()
        key = _KEY.match(clause, at)
        if key is None:
            if clause[at : at + 1] in ("`", '"'):
                raise FilterSyntaxError(f"{what}: unterminated quote at position {at}; {_FORM}")
            raise FilterSyntaxError(f"{what}: column '{clause[start:at]}' at position {start} has no key; {_FORM}")
        end = key.end()
        kind, name = parse_identifier(clause[start:end], start, what)
    else:
        bare = _BARE.match(clause, start)
        end = bare.end() if bare else start
        word_match = _WORD.match(clause, start)
        word = clause[start:end] or (word_match.group() if word_match else "")
        attribute = bare_attribute(word)
        if attribute is None:
            raise FilterSyntaxError(
                f"{what}: unknown column '{word}' at position {start}; columns start with metrics., params., "
                f"tags., attributes. (or are an attribute such as start_time)"
            )
        kind, name = ATTRIBUTE, attribute
    descending = False
    direction = _WORD.search(clause, end)
    if direction is not None:
        if direction.start() == end or direction.group().upper() not in ("ASC", "DESC"):
            raise FilterSyntaxError(
                f"{what}: expected ASC or DESC at position {direction.start()}, found '{direction.group()}'; {_FORM}"
            )
        descending = direction.group().upper() == "DESC"
        extra = _WORD.search(clause, direction.end())
        if extra is not None:
            raise FilterSyntaxError(
                f"{what}: expected the end of the clause at position {extra.start()}, found '{extra.group()}'; "
                "give each column as a clause of its own"
            )
    return OrderKey(kind, name, descending)
