"""Filters and orderings evaluated in Python over ``RunRow`` objects (the path without the index).

Semantics shared with the SQL path (``gittrack._search.sql``), checked against it by tests:
a run lacking the key never matches a comparison (not even ``!=``); a NaN metric matches only
``!=`` and ``NOT IN`` (as in MLflow); a dataset comparison matches when any of the run's datasets
does; NOT, AND and OR are plain boolean logic; missing values sort last in either direction,
NaN just before them.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from gittrack._search.filter import And, Comparison, Not, Or
from gittrack._search.order import OrderKey
from gittrack._search.rows import DATASET, METRIC, RunRow, as_number, dataset_values, has_key, like_pattern, value_of

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip

Predicate = Callable[[RunRow], bool]


def compile_predicate(node: Any) -> Predicate:
    """A function telling whether a row matches the parsed filter ``node`` (None: everything)."""
    if node is None:
        return lambda row: True
    if isinstance(node, And):
        parts = [compile_predicate(n) for n in node.items]
        return lambda row: all(p(row) for p in parts)
    if isinstance(node, Or):
        parts = [compile_predicate(n) for n in node.items]
        return lambda row: any(p(row) for p in parts)
    if isinstance(node, Not):
        inner = compile_predicate(node.item)
        return lambda row: not inner(row)
    return _comparison(node)


def _comparison(node: Comparison) -> Predicate:
    kind, key, op = node.kind, node.key, node.op
    if op in ("IS NULL", "IS NOT NULL"):
        wanted = op == "IS NOT NULL"
        return lambda row: has_key(row, kind, key) == wanted

    if kind == DATASET:
        test = _test(node, lambda row: row)
        return lambda row: any(test(v) for v in dataset_values(row, key))
    if kind == METRIC and op in ("!=", "NOT IN"):
        test = _test(node, lambda v: v)

        def unequal(row: RunRow) -> bool:
            value = row.metrics.get(key)
            return value is not None and (math.isnan(value) or test(value))

        return unequal

    def read(row: RunRow) -> Any:
        value = value_of(row, kind, key)
        if value is None:
            return None
        if node.numeric and kind != METRIC and not isinstance(value, int | float):
            return as_number(value)
        if isinstance(value, float) and math.isnan(value):
            return None
        return value

    return _test(node, read)


def _test(node: Comparison, read: Callable[[Any], Any]) -> Callable[[Any], bool]:
    """A predicate over whatever ``read`` extracts: false when it gives None."""
    op, literal = node.op, node.value
    if op in ("IN", "NOT IN"):
        members = frozenset(literal)
        inside = op == "IN"
        return lambda row: (v := read(row)) is not None and (v in members) == inside
    if op in ("LIKE", "ILIKE"):
        like = like_pattern(literal, op == "ILIKE")
        return lambda row: (v := read(row)) is not None and like.matches(v)
    compare = _OPS[op]
    return lambda row: (v := read(row)) is not None and compare(v, literal)


def sort_rows(rows: list[RunRow], order: list[OrderKey]) -> list[RunRow]:
    """Rows in the requested order; missing values last, NaN just before them (MLflow's order);
    ties: newest start, then run id."""
    ordered = sorted(rows, key=lambda r: r.run_id, reverse=True)
    ordered.sort(key=lambda r: r.start_time, reverse=True)
    for spec in reversed(order):
        present = [r for r in ordered if _sortable(r, spec) is not None]
        nan = [r for r in ordered if _sortable(r, spec) is None and value_of(r, spec.kind, spec.key) is not None]
        missing = [r for r in ordered if value_of(r, spec.kind, spec.key) is None]
        present.sort(key=lambda r: _sortable(r, spec), reverse=spec.descending)
        ordered = present + nan + missing
    return ordered


def _sortable(row: RunRow, spec: OrderKey) -> Any:
    value = value_of(row, spec.kind, spec.key)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
