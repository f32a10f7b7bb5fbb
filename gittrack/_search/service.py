"""``search_runs``: MLflow-style filtering and ordering of runs, through the local index.

The index path compiles the filter to SQL over ``.git/gittrack/index.sqlite``; the path
without it reads every run commit and evaluates the filter in Python. Both give the same rows
in the same order (tested); the second is used when the index cannot be (``use_index=False``,
a read-only ``.git``...).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._entities import Run
from gittrack._search.cache import SearchCache, row_from_record
from gittrack._search.evaluate import compile_predicate, sort_rows
from gittrack._search.filter import parse_filter
from gittrack._search.frame import columns_of, columns_of_rows, flat_row, select_columns
from gittrack._search.order import parse_order_by
from gittrack._search.rows import ATTRIBUTE, METRIC, RunRow, has_key
from gittrack._search.sql import keys_of, order_sql, to_sql
from gittrack._store import annotations as run_annotations
from gittrack._store import notes, rules, runfiles
from gittrack._store.naming import DEFAULT_EXPERIMENT, validate_experiment
from gittrack._store.runstore import DELETED_NAMESPACE, RunStore, experiment_names
from gittrack._store.timefmt import ms_to_iso
from gittrack.errors import GittrackError, IndexUnavailable, NotFoundError, UsageError

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")
VIEWS = ("active", "deleted", "all")
FORMATS = ("pandas", "list", "rows")
LISTED = 10  # experiment names an error lists at most


@dataclass(frozen=True)
class SearchResult:
    """Matching rows in order, and one line per run that could not be read."""

    rows: list[RunRow]
    problems: list[str]


def _check(experiment_names, max_results, run_view, output_format) -> list[str] | None:
    if run_view not in VIEWS:
        raise UsageError(f"run_view must be one of {', '.join(VIEWS)}, got {run_view!r}")
    if output_format not in FORMATS:
        raise UsageError(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1
    ):
        raise UsageError(f"max_results must be a positive integer, got {max_results!r}")
    if experiment_names is None:
        return None
    if isinstance(experiment_names, str):
        experiment_names = [experiment_names]
    return [validate_experiment(name) for name in experiment_names]


def require_experiments(repo: pygit2.Repository, names: Iterable[str], with_runs: Iterable[str] = ()) -> None:
    """Refuse a query of an experiment that does not exist, rather than answer it with no runs.

    Every query naming experiments (``search_runs``, ``find_rows``, ``count_runs``, ``list_runs``:
    the CLI's and the web UI's too) comes through here. An experiment exists once it has runs or
    metadata; ``default`` always does. ``with_runs``: names known to have runs (from the search
    index), so that the usual case costs no scan of the refs. A miss is a ``NotFoundError`` with
    the name that was probably meant or, for a number (an MLflow id), the names there are.
    """
    have = set(with_runs)
    missing = [
        name
        for name in names
        if name != DEFAULT_EXPERIMENT and name not in have and not notes.named(repo, notes.EXPERIMENT, name)
    ]
    if not missing:
        return
    known = set(experiment_names(repo)) | {DEFAULT_EXPERIMENT}
    for name in missing:
        if name not in known:
            raise _unknown_experiment(name, sorted(known | notes.names(repo, notes.EXPERIMENT)))


def _unknown_experiment(name: str, known: list[str]) -> NotFoundError:
    listed = ", ".join(repr(k) for k in known[:LISTED])
    if len(known) > LISTED:
        listed += f" and {len(known) - LISTED} more"
    if name.isdigit():
        return NotFoundError(
            f"no experiment has the id {name!r}: experiments are named here and an experiment's id is its name"
            f" (MLflow's '0' is 'default'); use one of {listed}"
        )
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return NotFoundError(f"no experiment named {name!r}; did you mean {close[0]!r}?")
    return NotFoundError(f"no experiment named {name!r}; the experiments here are {listed}")


def find_rows(
    repo: pygit2.Repository,
    experiment_names: list[str] | None = None,
    filter_string: str | None = "",
    order_by: list[str] | None = None,
    max_results: int | None = None,
    run_view: str = "active",
    use_index: bool = True,
    offset: int = 0,
) -> SearchResult:
    """The runs matching a filter, ordered (default: newest first), from the ``offset``-th on
    (a page of a long list: SQLite skips the others without building their rows), and limited."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise UsageError(f"offset must be an integer of 0 or more, got {offset!r}")
    rows, problems = _find(repo, experiment_names, filter_string, order_by, max_results, run_view, use_index,
                           offset=offset)  # fmt: skip
    return SearchResult(rows, problems)


def count_runs(
    repo: pygit2.Repository, experiment_names: list[str] | None = None, filter_string: str | None = "",
    run_view: str = "active",
) -> int:  # fmt: skip
    """How many runs match a filter: a count in SQL, no row built (100,000 runs: a tenth of the time)."""
    return _find(repo, experiment_names, filter_string, None, None, run_view, True, "count")[0]


def _find(repo, experiment_names, filter_string, order_by, max_results, run_view, use_index, shape="rows", offset=0):
    """``(rows, problems)``; ``shape`` "columns": ``(RunColumns, problems)``, "count": ``(count,
    problems)``: from the index when it can be used (straight from SQL), else from every run commit.
    An experiment named that does not exist is a ``NotFoundError`` (a typo is not an empty answer)."""
    with paused_gc():  # building the index makes millions of small objects, none in a cycle
        return _find_now(repo, experiment_names, filter_string, order_by, max_results, run_view, use_index, shape,
                         offset)  # fmt: skip


def _find_now(repo, experiment_names, filter_string, order_by, max_results, run_view, use_index, shape, offset):
    experiments = _check(experiment_names, max_results, run_view, "rows")
    node = parse_filter(filter_string)
    order = parse_order_by(order_by)
    rows = None
    if use_index:
        try:
            index = SearchCache(repo)
            try:
                problems = index.sync()
                if experiments is not None:
                    require_experiments(repo, experiments, index.experiments_among(experiments))
                if index.fresh is not None:  # just built from nothing: every row is in memory
                    found = [row for row, deleted in index.fresh if _wanted(row, deleted, experiments, run_view)]
                    rows = _evaluate(found, compile_predicate(node), order, max_results, offset)
                else:
                    keys = keys_of(node, order if shape != "count" else [])
                    columns = index.columns(keys) if keys else None
                    if shape == "count":
                        return index.count(*to_sql(node, columns), experiments, run_view), problems
                    query = (*to_sql(node, columns), *order_sql(order, columns), experiments, run_view, max_results)
                    if shape == "columns":
                        return index.select_columns(*query), problems
                    return index.select(*query, offset), problems
            finally:
                index.close()
        except IndexUnavailable as exc:
            log.warning("gittrack: %s; reading every run instead", exc)
    if rows is None:
        if experiments is not None:
            require_experiments(repo, experiments)
        rows, problems = _scan(repo, experiments, compile_predicate(node), order, max_results, run_view, offset)
    if shape == "count":
        return len(rows), problems
    return (columns_of_rows(rows) if shape == "columns" else rows), problems


def _scan(repo, experiments, predicate, order, max_results, run_view, offset=0) -> tuple[list[RunRow], list[str]]:
    """The path without the index: read every run commit, filter and sort in Python."""
    store = RunStore(repo)
    refs, problems = [], []
    for namespace, view in ((None, "active"), (DELETED_NAMESPACE, "deleted")):
        if run_view in (view, "all"):
            found, bad = store.refs(namespace=namespace) if namespace else store.refs()
            refs.extend(found)
            problems.extend(bad)
    rows = []
    edits = run_annotations.reader(repo)
    for ref in refs:
        if experiments is not None and ref.experiment not in experiments:
            continue
        try:
            record = run_annotations.apply(
                rules.read_run(repo, ref.commit, ref.experiment, ref.run_id), edits(ref.commit)
            )
        except GittrackError as exc:
            problems.append(f"{ref.name}: {exc}")
            continue
        rows.append(row_from_record(record, ref.name, str(ref.commit)))
    return _evaluate(rows, predicate, order, max_results, offset), problems


def _wanted(row: RunRow, deleted: int, experiments: list[str] | None, run_view: str) -> bool:
    return (run_view == "all" or deleted == (run_view == "deleted")) and (
        experiments is None or row.experiment in experiments
    )


def _evaluate(rows: list[RunRow], predicate, order, max_results: int | None, offset: int = 0) -> list[RunRow]:
    """Filter, order, skip ``offset`` and limit rows in Python (same semantics as the SQL path)."""
    rows = sort_rows([row for row in rows if predicate(row)], order)[offset:]
    return rows[:max_results] if max_results else rows


def search_runs(
    repo: pygit2.Repository,
    experiment_names: list[str] | str | None = None,
    filter_string: str | None = "",
    order_by: list[str] | str | None = None,
    max_results: int | None = None,
    run_view: str = "active",
    output_format: str = "pandas",
    use_index: bool = True,
) -> Any:
    """Runs as a pandas DataFrame (MLflow's column names) or, with ``output_format="list"``, ``Run`` objects."""
    _check(experiment_names, max_results, run_view, output_format)
    with paused_gc():
        shape = "columns" if output_format == "pandas" else "rows"
        found, problems = _find(
            repo, experiment_names, filter_string, order_by, max_results, run_view, use_index, shape
        )
        for problem in problems:
            log.warning("gittrack: skipped %s", problem)
        if output_format == "rows":
            return found
        if output_format == "list":
            return runs_of(repo, found)
        from gittrack._search.frame import to_frame

        return to_frame(found)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a search builds its many small objects (no cycles):
    left running, it rescans them again and again, which costs a third of a large search."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def runs_of(repo: pygit2.Repository, rows: list[RunRow]) -> list[Run]:
    """``Run`` objects for search rows, their records read from the run commits (with their edits)."""
    out = []
    edits = run_annotations.reader(repo)
    for row in rows:
        oid = _oid(row.commit)
        record = run_annotations.apply(runfiles.read_summary(repo, oid), edits(oid))
        out.append(Run.from_record(record, row.ref, row.commit, status=row.status))
    return out


def _oid(hex_id: str) -> pygit2.Oid:
    import pygit2

    return pygit2.Oid(hex=hex_id)


@dataclass
class RunsTable:
    """What ``gittrack runs list`` shows: the runs (at most the limit; ``more`` if more matched),
    their columns (those chosen, if any), sort keys no listed run has, and unreadable runs."""

    rows: list[RunRow]
    more: bool
    columns: list[str]
    unsorted: list[str]
    problems: list[str]
    order: list = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}`` over ``columns``: times ISO 8601, duration in seconds."""
        out = []
        for row in self.rows:
            flat = flat_row(row)
            for name in ("start_time", "end_time"):
                if flat.get(name) is not None:
                    flat[name] = ms_to_iso(flat[name])
            if flat.get("duration") is not None:
                flat["duration"] = flat["duration"] / 1000
            out.append({c: flat.get(c) for c in self.columns})
        return out

    def metric_columns(self, most: int) -> list[str]:
        """The ``most`` metrics most runs have, and any metric the runs are sorted by (first)."""
        counts = Counter(key for r in self.rows for key in r.metrics)
        metrics = [key for key, _ in counts.most_common(most)]
        for spec in self.order:
            if spec.kind == METRIC and spec.key not in metrics:
                metrics.insert(0, spec.key)
        return metrics


def runs_table(
    repo: pygit2.Repository,
    experiments: list[str] | None = None,
    filter_string: str = "",
    order_by: list[str] | None = None,
    limit: int | None = None,
    run_view: str = "active",
    columns: list[str] | None = None,
) -> RunsTable:
    """The runs of a listing (``Client.runs_table``): a column pattern that matches no column is a
    usage error when runs are listed (a typo, not an empty answer)."""
    order = parse_order_by(list(order_by or []))
    found = find_rows(repo, experiments, filter_string, list(order_by or []), limit + 1 if limit else None, run_view)
    rows = found.rows[:limit] if limit else found.rows
    unsorted = [
        spec.column
        for spec in order
        if spec.kind != ATTRIBUTE and rows and not any(has_key(r, spec.kind, spec.key) for r in found.rows)
    ]
    chosen = select_columns(columns_of(rows), list(columns or []) or None, strict=bool(rows))
    return RunsTable(rows, limit is not None and len(found.rows) > limit, chosen, unsorted, found.problems, order)
