"""Moving history in and out (``client.migrate``, docs/migrate.md): MLflow stores and DVC
experiments in, an MLflow store out, and packing ended runs into index refs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gittrack._store.naming import DEFAULT_EXPERIMENT

if TYPE_CHECKING:
    from gittrack._migrate.report import MigrationReport
    from gittrack._services.registry import RegistryService
    from gittrack._services.runs import RunService
    from gittrack._store.packing import PackReport

Progress = Callable[[int, int], None]


class MigrationService:
    """Imports into, exports from and packing of one repository's runs."""

    def __init__(self, runs: RunService, registry: RegistryService) -> None:
        self._runs, self._registry, self._repo = runs, registry, runs.repo

    def import_mlflow(
        self,
        tracking_uri: str | None = None,
        experiments: Iterable[str] | None = None,
        registry: bool = True,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> MigrationReport:
        """Import an MLflow store's runs (and, with ``registry``, its registered models) as runs
        and registry tags here; runs imported before are skipped."""
        from gittrack._migrate.mlflow_import import import_mlflow

        return import_mlflow(self._repo.git, tracking_uri, experiments, registry, dry_run, progress)

    def import_dvc_experiments(
        self, experiment: str | None = None, all_commits: bool = False, progress: Progress | None = None
    ) -> MigrationReport:
        """Import the DVC experiments of this repository (``refs/exps``; those of HEAD, or of every
        commit) as runs of ``experiment`` whose snapshot is the experiment's commit; experiments
        imported before are skipped."""
        from gittrack._migrate.dvc_import import import_dvc_experiments

        return import_dvc_experiments(self._repo.git, experiment or DEFAULT_EXPERIMENT, all_commits, progress)

    def export_mlflow(
        self,
        tracking_uri: str,
        experiments: Iterable[str] | None = None,
        registry: bool = True,
        progress: Progress | None = None,
    ) -> MigrationReport:
        """Write this repository's runs (params, metric histories, tags, times, status, artifacts and
        models) and registry (versions, stages as aliases) into an MLflow store; runs exported
        before are skipped."""
        from gittrack._migrate.mlflow_export import export_mlflow

        return export_mlflow(self._runs, self._registry, tracking_uri, experiments, registry, progress)

    def pack_runs(self, experiments: Iterable[str] | None = None, progress: Progress | None = None) -> PackReport:
        """Move ended runs from a ref each into their experiment's index ref (``refs/runs-index/``),
        so pushes and fetches stay fast with many runs."""
        return self._repo.pack(experiments, progress)
