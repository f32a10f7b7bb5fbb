"""``order_by`` clauses: ``"metrics.rmse ASC"``, ``"params.lr DESC"``, ``"start_time"``..."""

from __future__ import annotations

from dataclasses import dataclass

from gittrack.query.filter import ATTRIBUTES, FilterSyntaxError, parse_identifier
from gittrack.store.rows import ATTRIBUTE


@dataclass(frozen=True)
class OrderKey:
    """One ordering column and its direction."""

    kind: str
    key: str
    descending: bool


def parse_order_by(clauses: list[str] | str | None) -> list[OrderKey]:
    """Parse order_by clauses; a bare attribute name (``start_time``) means ``attributes.<name>``."""
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    keys = []
    for clause in clauses:
        text = clause.strip() if isinstance(clause, str) else ""
        column, _, direction = text.rpartition(" ") if text.upper().endswith((" ASC", " DESC")) else (text, "", "ASC")
        column = column.strip()
        if not column:
            raise FilterSyntaxError(f"order_by: {clause!r} is not '<column> [ASC|DESC]'")
        if "." not in column and column in ATTRIBUTES:
            kind, key = ATTRIBUTE, column
        else:
            kind, key = parse_identifier(column, what=f"order_by {clause!r}")
        keys.append(OrderKey(kind, key, direction.upper() == "DESC"))
    return keys
