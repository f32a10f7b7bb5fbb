"""Filters and orderings compiled to SQL over the run index (``gittrack._search.cache``).

Same semantics as ``gittrack._search.evaluate``: params, metrics and tags are read from each key's
typed column (``cache.KeyColumns``: a metric's number, ``'nan'`` for NaN; a param's or tag's
text, and the text read as a number for numeric comparisons), NULL when the run lacks the key; a
comparison on a missing key is false (``coalesce(..., 0)`` under a NOT), so a run lacking the key
never matches, even under NOT; a NaN metric matches only ``!=`` and ``NOT IN`` (text is unequal to
every number, and a guard keeps it out of ``>``, ``>=``); datasets (a table of their own) match
when any of them does; LIKE and ILIKE use the same Python matcher, once per distinct value; the
status is the effective one (``gt_status``), and so is the end time (a killed run ended at its
last heartbeat).
"""

from __future__ import annotations

from typing import Any

from gittrack._search.cache import END_TIME_SQL, STATUS_SQL, KeyColumns
from gittrack._search.filter import And, Comparison, Not, Or
from gittrack._search.order import OrderKey
from gittrack._search.rows import ATTRIBUTE, DATASET, METRIC
from gittrack._store.naming import validate_key
from gittrack.errors import InvalidNameError

_ATTRIBUTE_SQL = {
    "run_id": "r.run_id", "run_name": "r.run_name", "experiment": "r.experiment", "status": STATUS_SQL,
    "user": "r.user", "source_commit": "r.source_commit", "source_branch": "r.source_branch",
    "parent_run_id": "r.parent_run", "host": "r.host", "start_time": "r.start_time",
    "end_time": END_TIME_SQL, "dirty": "r.dirty", "artifact_uri": "('runs:/' || r.run_id)",
}  # fmt: skip


_RANGES = frozenset(("<", "<=", ">", ">="))


def _valid(key: str) -> bool:
    """Whether a run can have the key at all (a key that is not valid is in no run)."""
    try:
        validate_key(key)
    except InvalidNameError:
        return False
    return True


def keys_of(node: Any, order: list[OrderKey] | None = None) -> set[tuple[str, str, bool]]:
    """The ``(kind, key, numeric)`` params, metrics and tags a filter and an ordering read: the
    columns :meth:`SearchCache.columns` must give before they are compiled."""
    found: set[tuple[str, str, bool]] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, And | Or):
            stack.extend(item.items)
        elif isinstance(item, Not):
            stack.append(item.item)
        elif isinstance(item, Comparison) and item.kind not in (ATTRIBUTE, DATASET):
            found.add((item.kind, item.key, bool(item.numeric and item.kind != METRIC)))
    found.update((spec.kind, spec.key, False) for spec in order or () if spec.kind != ATTRIBUTE)
    return found


def to_sql(node: Any, columns: KeyColumns | None = None, positive: bool = True) -> tuple[str, list[Any]]:
    """A WHERE expression over ``runs r`` and its parameters (None: ``1``, everything); ``columns``:
    where the keys of :func:`keys_of` are (none needed for a filter of attributes only).

    ``positive``: no NOT above. There a comparison with a missing value (NULL) may stay NULL, which
    WHERE treats as false, so SQLite can use the columns' indexes; under a NOT it is made 0."""
    if node is None:
        return "1", []
    if isinstance(node, And | Or):
        parts = [to_sql(n, columns, positive) for n in node.items]
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]
    if isinstance(node, Not):
        inner, params = to_sql(node.item, columns, positive=False)
        return f"(NOT {inner})", params
    test, params = _comparison(node, columns)
    return (test if positive else f"coalesce({test}, 0)"), params


def _test(column: str, bound: list[Any], node: Comparison, columns: KeyColumns | None) -> tuple[str, list[Any]]:
    """``column`` (whose own parameters are ``bound``) tested by ``node``; NULL or false when it is NULL."""
    op, value = node.op, node.value
    if op in ("IN", "NOT IN"):
        marks = ",".join("?" * len(value))
        return f"{column} {op} ({marks})", [*bound, *value]
    if op in ("LIKE", "ILIKE"):
        if columns is not None:
            return columns.like(column, bound, value, op == "ILIKE")
        return f"gt_like(?, {column}, {int(op == 'ILIKE')})", [value, *bound]
    return f"{column} {op} ?", [*bound, int(value) if isinstance(value, bool) else value]


def _comparison(node: Comparison, columns: KeyColumns | None) -> tuple[str, list[Any]]:
    if node.kind == DATASET:
        field = f"d.{node.key}"
        if node.op in ("IS NULL", "IS NOT NULL"):
            found = f"r.id IN (SELECT d.run FROM datasets d WHERE {field} IS NOT NULL)"  # noqa: S608 - our names
            return (found if node.op == "IS NOT NULL" else f"NOT {found}"), []
        test, params = _test(field, [], node, None)
        return f"r.id IN (SELECT d.run FROM datasets d WHERE {test})", params  # noqa: S608 - bound
    if node.kind == ATTRIBUTE:
        column = _ATTRIBUTE_SQL[node.key]
        if node.op in ("IS NULL", "IS NOT NULL"):
            return f"{column} {node.op}", []
        return _test(column, [], node, columns)
    if not _valid(node.key):
        return ("1" if node.op == "IS NULL" else "0"), []
    assert columns is not None, "SearchCache.columns(keys_of(filter)) gives the columns of its keys"
    column, bound = columns.value(node.kind, node.key)
    if node.op in ("IS NULL", "IS NOT NULL"):
        return f"{column} {node.op}", bound
    if node.numeric and node.kind != METRIC:
        column, bound = columns.number(node.kind, node.key)
    if node.op in _RANGES:  # a range often holds half the runs: scanning them beats the column's index
        column = f"+{column}"
    if node.kind == METRIC and node.op in (">", ">="):  # a NaN metric is the text 'nan', above every number
        test, params = _test(column, bound, node, columns)
        return f"({test} AND typeof({column}) <> 'text')", [*params, *bound]
    return _test(column, bound, node, columns)


def order_sql(order: list[OrderKey], columns: KeyColumns | None = None) -> tuple[str, list[Any]]:
    """An ORDER BY list (missing values last; NaN just before them; ties: newest start, then run
    id) and its parameters."""
    terms: list[str] = []
    params: list[Any] = []
    for spec in order:
        direction = "DESC" if spec.descending else "ASC"
        if spec.kind == ATTRIBUTE:
            column = _ATTRIBUTE_SQL[spec.key]
            terms.append(f"({column}) IS NULL, ({column}) {direction}")
            continue
        if not _valid(spec.key):
            continue  # no run has it: every run ties
        assert columns is not None, "SearchCache.columns(keys_of(filter, order)) gives the columns of its keys"
        column, bound = columns.value(spec.kind, spec.key)
        if spec.kind == METRIC:  # missing last, NaN (the text 'nan') just before
            terms.append(f"{column} IS NULL, typeof({column}) = 'text', {column} {direction}")
            params.extend(bound * 3)
        else:
            terms.append(f"{column} IS NULL, {column} {direction}")
            params.extend(bound * 2)
    terms.append("r.start_time DESC, r.run_id DESC")
    return ", ".join(terms), params
