"""Filters and orderings compiled to SQL over the run index (``gittrack.search.cache``).

Same semantics as ``gittrack.search.evaluate``: params, metrics and tags are read from each run's
``data`` JSON (``[params, metrics, tags]``) with ``json_extract``; a comparison on a missing key is
false (``coalesce(..., 0)``), so a run lacking the key never matches, even under NOT; NaN metrics
are stored as JSON null (present, unlike a missing key) and match only ``!=`` and ``NOT IN``;
datasets (``$[3]``, ``[name, digest, context]`` each) match when any of them does; LIKE and ILIKE
call the same Python matcher; the status is the effective one (``gt_status``), and so is the end
time (a killed run ended at its last heartbeat).
"""

from __future__ import annotations

from typing import Any

from gittrack.errors import InvalidNameError
from gittrack.search.cache import END_TIME_SQL, STATUS_SQL
from gittrack.search.filter import And, Comparison, Not, Or
from gittrack.search.order import OrderKey
from gittrack.search.rows import ATTRIBUTE, DATASET, DATASET_FIELDS, METRIC, PARAM, TAG
from gittrack.store.naming import validate_key

_SLOTS = {PARAM: 0, METRIC: 1, TAG: 2}
_ATTRIBUTE_SQL = {
    "run_id": "r.run_id", "run_name": "r.run_name", "experiment": "r.experiment", "status": STATUS_SQL,
    "user": "r.user", "source_commit": "r.source_commit", "source_branch": "r.source_branch",
    "parent_run_id": "r.parent_run", "host": "r.host", "start_time": "r.start_time",
    "end_time": END_TIME_SQL, "dirty": "r.dirty", "artifact_uri": "('runs:/' || r.run_id)",
}  # fmt: skip


def _json_path(kind: str, key: str) -> str | None:
    """The JSON path of a key in ``runs.data``; None for a key no run can have (not a valid key)."""
    try:
        validate_key(key)
    except InvalidNameError:
        return None
    return f'$[{_SLOTS[kind]}]."{key}"'


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


def _test(column: str, bound: list[Any], node: Comparison) -> tuple[str, list[Any]]:
    """``column`` (whose own parameters are ``bound``) tested by ``node``; false when it is NULL."""
    op, value = node.op, node.value
    if op in ("IN", "NOT IN"):
        marks = ",".join("?" * len(value))
        return f"coalesce({column} {op} ({marks}), 0)", [*bound, *value]
    if op in ("LIKE", "ILIKE"):
        return f"coalesce(gt_like(?, {column}, {int(op == 'ILIKE')}), 0)", [value, *bound]
    return f"coalesce({column} {op} ?, 0)", [*bound, int(value) if isinstance(value, bool) else value]


def _comparison(node: Comparison) -> tuple[str, list[Any]]:
    if node.kind == DATASET:
        field = f"json_extract(d.value, '$[{DATASET_FIELDS.index(node.key)}]')"
        if node.op in ("IS NULL", "IS NOT NULL"):
            found = f"EXISTS (SELECT 1 FROM json_each(r.data, '$[3]') d WHERE {field} IS NOT NULL)"  # noqa: S608
            return (found if node.op == "IS NOT NULL" else f"NOT {found}"), []
        test, params = _test(field, [], node)
        return f"EXISTS (SELECT 1 FROM json_each(r.data, '$[3]') d WHERE {test})", params  # noqa: S608 - bound
    if node.kind == ATTRIBUTE:
        column = _ATTRIBUTE_SQL[node.key]
        if node.op in ("IS NULL", "IS NOT NULL"):
            return f"{column} {node.op}", []
        return _test(column, [], node)
    path = _json_path(node.kind, node.key)
    if path is None:
        return ("1" if node.op == "IS NULL" else "0"), []
    if node.op in ("IS NULL", "IS NOT NULL"):
        return f"json_type(r.data, ?) {node.op}", [path]
    column = "json_extract(r.data, ?)"
    if node.numeric and node.kind != METRIC:
        column = f"gt_num({column})"
    test, params = _test(column, [path], node)
    if node.kind == METRIC and node.op in ("!=", "NOT IN"):  # NaN (JSON null) is unequal to everything
        return f"({test} OR coalesce(json_type(r.data, ?) = 'null', 0))", [*params, path]
    return test, params


def order_sql(order: list[OrderKey]) -> tuple[str, list[Any]]:
    """An ORDER BY list (missing values last; ties: newest start, then run id) and its parameters."""
    terms: list[str] = []
    params: list[Any] = []
    for spec in order:
        if spec.kind == ATTRIBUTE:
            column = _ATTRIBUTE_SQL[spec.key]
        else:
            path = _json_path(spec.kind, spec.key)
            if path is None:
                continue  # no run has it: every run ties
            column = "json_extract(r.data, ?)"
            params.extend([path, path, path])
            terms.append("json_type(r.data, ?) IS NULL")  # missing last; NaN (JSON null) just before
        terms.append(f"({column}) IS NULL, ({column}) {'DESC' if spec.descending else 'ASC'}")
    terms.append("r.start_time DESC, r.run_id DESC")
    return ", ".join(terms), params
