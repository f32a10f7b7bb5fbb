"""Filters and orderings compiled to SQL over the run index (``gittrack.store.index``).

Same semantics as ``gittrack.query.evaluate``: comparisons on a key are ``EXISTS`` sub-queries,
so a run lacking the key never matches; NaN metrics are stored as NULL and never match; LIKE and
ILIKE call the same Python matcher; the status is the effective one (``gt_status``).
"""

from __future__ import annotations

from typing import Any

from gittrack.query.filter import And, Comparison, Not, Or
from gittrack.query.order import OrderKey
from gittrack.store.rows import ATTRIBUTE, METRIC, PARAM

_TABLES = {METRIC: "metrics", PARAM: "params"}
STATUS_SQL = "gt_status(r.status, r.host, r.pid, r.heartbeat, r.checkpoint_interval)"
_ATTRIBUTE_SQL = {
    "run_id": "r.run_id", "run_name": "r.run_name", "experiment": "r.experiment", "status": STATUS_SQL,
    "user": "r.user", "source_commit": "r.source_commit", "source_branch": "r.source_branch",
    "parent_run_id": "r.parent_run", "host": "r.host", "start_time": "r.start_time",
    "end_time": "r.end_time", "dirty": "r.dirty",
}  # fmt: skip


def _table(kind: str) -> str:
    return _TABLES.get(kind, "tags")


def to_sql(node: Any) -> tuple[str, list[Any]]:
    """A WHERE expression over ``runs r`` and its parameters (None: ``1``, everything)."""
    if node is None:
        return "1", []
    if isinstance(node, And | Or):
        parts = [to_sql(n) for n in node.items]
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]
    if isinstance(node, Not):
        inner, params = to_sql(node.item)
        return f"(NOT {inner})", params
    return _comparison(node)


def _test(column: str, node: Comparison) -> tuple[str, list[Any]]:
    op, value = node.op, node.value
    if op in ("IN", "NOT IN"):
        marks = ",".join("?" * len(value))
        return f"({column} IS NOT NULL AND {column} {op} ({marks}))", list(value)
    if op in ("LIKE", "ILIKE"):
        return f"gt_like(?, {column}, {int(op == 'ILIKE')})", [value]
    return f"{column} {op} ?", [int(value) if isinstance(value, bool) else value]


def _comparison(node: Comparison) -> tuple[str, list[Any]]:
    if node.kind == ATTRIBUTE:
        column = _ATTRIBUTE_SQL[node.key]
        if node.op == "IS NULL":
            return f"{column} IS NULL", []
        if node.op == "IS NOT NULL":
            return f"{column} IS NOT NULL", []
        return _test(column, node)
    table = _table(node.kind)
    exists = f"EXISTS (SELECT 1 FROM {table} k WHERE k.run = r.id AND k.key = ?"  # noqa: S608 - fixed table name
    if node.op == "IS NULL":
        return f"NOT {exists})", [node.key]
    if node.op == "IS NOT NULL":
        return f"{exists})", [node.key]
    column = "gt_num(k.value)" if node.numeric and node.kind != METRIC else "k.value"
    test, params = _test(column, node)
    return f"{exists} AND {test})", [node.key, *params]


def order_sql(order: list[OrderKey]) -> tuple[str, list[Any]]:
    """An ORDER BY list (missing values last; ties: newest start, then run id) and its parameters."""
    terms: list[str] = []
    params: list[Any] = []
    for spec in order:
        if spec.kind == ATTRIBUTE:
            column = _ATTRIBUTE_SQL[spec.key]
        else:
            column = f"(SELECT k.value FROM {_table(spec.kind)} k WHERE k.run = r.id AND k.key = ?)"  # noqa: S608
            params.append(spec.key)
            params.append(spec.key)
        terms.append(f"({column}) IS NULL, ({column}) {'DESC' if spec.descending else 'ASC'}")
    terms.append("r.start_time DESC, r.run_id DESC")
    return ", ".join(terms), params
