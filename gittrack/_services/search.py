"""Finding runs (``client.search``): MLflow's filter grammar with OR, NOT, parentheses and IS NULL,
answered from the local index when it can be, else from the run commits (``gittrack._search``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gittrack._entities import Run
    from gittrack._search.rows import RunRow
    from gittrack._search.service import RunsTable, SearchResult
    from gittrack._store.repository import Repository


class SearchService:
    """Searches over the runs of one repository."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def runs(
        self,
        experiment_names: list[str] | str | None = None,
        filter_string: str = "",
        order_by: list[str] | str | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        output_format: str = "pandas",
    ) -> Any:
        """Matching runs, newest first by default: a pandas DataFrame (``run_id``, ``status``,
        ``params.x``, ``metrics.y``, ``tags.z``...) or, with ``output_format="list"``, ``Run``s.
        ``run_view``: ``active``, ``deleted`` or ``all``."""
        from gittrack._search.service import search_runs

        return search_runs(
            self._repo.git, experiment_names, filter_string, order_by, max_results, run_view, output_format
        )

    def rows(
        self,
        experiment_names: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        offset: int = 0,
    ) -> SearchResult:
        """Search without pandas: flat rows plus the runs that could not be read; ``offset`` skips
        the first matches (a page of a long list)."""
        from gittrack._search.service import find_rows

        return find_rows(
            self._repo.git, experiment_names, filter_string, order_by, max_results, run_view, offset=offset
        )

    def count(
        self, experiment_names: list[str] | None = None, filter_string: str = "", run_view: str = "active"
    ) -> int:
        """How many runs match a filter, without reading them (the UI's total)."""
        from gittrack._search.service import count_runs

        return count_runs(self._repo.git, experiment_names, filter_string, run_view)

    def runs_of(self, rows: list[RunRow]) -> list[Run]:
        """``Run`` objects for rows returned by :meth:`rows`."""
        from gittrack._search.service import runs_of

        return runs_of(self._repo.git, rows)

    def table(
        self,
        experiments: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        limit: int | None = None,
        run_view: str = "active",
        columns: list[str] | None = None,
    ) -> RunsTable:
        """What ``gittrack runs list`` shows: the matching runs (at most ``limit``) as flat rows, the
        columns chosen by name or glob, sort keys no run has, and unreadable runs."""
        from gittrack._search.service import runs_table

        return runs_table(self._repo.git, experiments, filter_string, order_by, limit, run_view, columns)
