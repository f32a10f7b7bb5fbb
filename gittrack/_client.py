"""The explicit client: every operation takes its run id; the fluent API delegates here.

``Client`` is a composition of services over one :class:`Repository`: ``client.runs`` (recording
and reading runs), ``.workspace`` (commands, checkout, reproduce), ``.experiments``, ``.search``,
``.registry``, ``.promotions``, ``.remote`` and ``.migrate``. Its flat, MLflow-named methods
are one-line delegations to them (docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gittrack._services.experiments import ExperimentService
from gittrack._services.migration import MigrationService
from gittrack._services.registry import PromotionsService, RegistryService
from gittrack._services.remote import RemoteService
from gittrack._services.runs import RunService
from gittrack._services.search import SearchService
from gittrack._services.workspace import WorkspaceService
from gittrack._store.repository import Repository

if TYPE_CHECKING:
    import subprocess

    from gittrack._data.restore import Restored
    from gittrack._entities import Metric, Run
    from gittrack._search.service import RunsTable
    from gittrack._store import metricfile
    from gittrack._workspace import Plan, Reproduction


class Client:
    """Access to the runs of one repository (``repo``: a path inside it, default: the current folder)."""

    def __init__(self, repo: str | os.PathLike | None = None) -> None:
        self.repository = Repository.open(repo)
        """The git seam: the repository, its run store and writer factory."""
        self.runs = RunService(self.repository)
        self.workspace = WorkspaceService(self.runs)
        self.experiments = ExperimentService(self.repository)
        self.search = SearchService(self.repository)
        self.registry = RegistryService(self.runs)
        self.promotions = PromotionsService(self.repository)
        self.remote = RemoteService(self.repository)
        self.migrate = MigrationService(self.runs, self.registry)

    @property
    def repo_path(self) -> str:
        """The root of the repository's work tree."""
        return self.repository.workdir

    # -- recording and reading runs (client.runs) --------------------------------------------------
    def create_run(
        self,
        experiment: str | None = None,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        command: list[str] | None = None,
        launcher: str = "python",
        cwd: str | os.PathLike | None = None,
        deferred: bool = False,
        commit: str | None = None,
    ) -> Run:
        """Start a run: snapshot the workspace, write its first checkpoint, start its heartbeat.
        ``commit`` (a full commit id of this repository): the run ran that commit elsewhere, so its
        snapshot is the commit's tree instead of the work tree (``NotFoundError`` if unknown)."""
        return self.runs.create_run(experiment, run_name, params, tags, parent_run_id, command, launcher, cwd, deferred,
                                    commit)  # fmt: skip

    def attach_run(self, run_id: str) -> Run:
        """Log into an existing RUNNING run from this process (as a script under ``gittrack run`` does)."""
        return self.runs.attach_run(run_id)

    def move_run(self, run_id: str, experiment: str) -> Run:
        """Put a RUNNING run in another experiment (its ref and record both say so); the run of ``gittrack run`` without
        ``-e`` moves to the experiment its script starts runs in."""
        return self.runs.move_run(run_id, experiment)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Record a param (stored as a string, with its original type); params never change."""
        return self.runs.log_param(run_id, key, value)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record several params."""
        return self.runs.log_params(run_id, params)

    def log_metric(
        self, run_id: str, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Buffer one metric point (written at the next checkpoint)."""
        return self.runs.log_metric(run_id, key, value, step, timestamp)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Buffer several metric points at the same step and time."""
        return self.runs.log_metrics(run_id, metrics, step)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (stored as a string) of any run: a RUNNING run records it, an ended one keeps it as an edit beside
        its unchanged commit (docs/tracking.md); ``mlflow.runName`` renames it."""
        return self.runs.set_tag(run_id, key, value)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags (as :meth:`set_tag`)."""
        return self.runs.set_tags(run_id, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of a run (as :meth:`set_tag`)."""
        return self.runs.delete_tag(run_id, key)

    def edit_run(
        self, run_id: str, tags: Mapping[str, Any] | None = None, name: str | None = None, description: Any = ...
    ) -> Run:
        """Change a run's tags (a value of None removes the tag), its name and its description (MLflow's
        ``mlflow.note.content`` tag; None or empty removes it) in one edit, as :meth:`set_tag` does; returns the run
        as it is now."""
        return self.runs.edit_run(run_id, tags, name, description)

    def log_input(self, run_id: str, path: str | os.PathLike, name: str | None = None, track: bool = False) -> dict:
        """Record the DVC hash of a data file or folder the run used (``track``: also ``dvc add`` it)."""
        return self.runs.log_input(run_id, path, name, track)

    def log_dataset(
        self,
        run_id: str,
        name: str,
        digest: str | None = None,
        context: str | None = None,
        path: str | os.PathLike | None = None,
        source: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        source_type: str | None = None,
        schema: str | None = None,
        profile: str | None = None,
    ) -> dict:
        """Record a dataset (name, digest, context, tags; a local ``path`` is also hashed by DVC), searchable as
        ``dataset.name``, ``dataset.digest`` and ``dataset.context``; ``source_type``, ``schema`` and ``profile`` are
        MLflow's fields of a dataset (docs/data.md). A dataset is recorded once per name and digest
        in a run, with the context it was first logged with."""
        return self.runs.log_dataset(
            run_id, name, digest, context, path, source, tags, source_type=source_type, schema=schema, profile=profile
        )

    def log_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> dict:
        """Store a file or folder in the DVC cache and point to it from the run."""
        return self.runs.log_artifact(run_id, local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
        """Store a folder's content (one folder artifact at ``artifact_path``, or each entry at the root)."""
        return self.runs.log_artifacts(run_id, local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[dict]:
        """The artifacts of a run: path, md5, size, nfiles, kind. With ``path``, those under that folder; inside a
        folder logged as one artifact, its files (kind ``file``)."""
        return self.runs.list_artifacts(run_id, path)

    def download_artifacts(self, run_id: str, path: str | None = None, dst: str | os.PathLike | None = None) -> str:
        """Materialise artifacts from the DVC cache (fetching from the DVC remote when missing). ``path`` is an
        artifact, a folder of artifacts, or a file or folder inside a folder artifact."""
        return self.runs.download_artifacts(run_id, path, dst)

    def log_model(
        self,
        run_id: str,
        model: Any,
        name: str = "model",
        flavor: str | None = None,
        signature: dict | None = None,
        input_example: Any = None,
        pip_requirements: list[str] | None = None,
        serialization: str | None = None,
        extra=None,
        entry: Mapping[str, Any] | None = None,
    ) -> dict:
        """Save a model (flavor detected when not given) with its model.yaml, as artifact ``name``; ``serialization``,
        ``extra`` and ``entry``: see docs/registry.md."""
        return self.runs.log_model(
            run_id, model, name, flavor, signature, input_example, pip_requirements, serialization, extra, entry
        )

    def log_model_folder(
        self, run_id: str, local_dir: str | os.PathLike, name: str = "model", entry: Mapping[str, Any] | None = None
    ) -> dict:
        """Log a model folder saved elsewhere (MLflow's layout, as an MLflow client uploads it) as the run's model
        ``name``, with MLflow 3's logged-model fields in ``entry`` (``gittrack server``)."""
        return self.runs.log_model_folder(run_id, local_dir, name, entry)

    def load_model(self, uri: str) -> Any:
        """Load ``runs:/<run>/<name>`` or ``MODEL@<version|stage|latest>``: fetched if needed, verified against the
        run's pointer, then loaded."""
        return self.runs.load_model(uri)

    def model_folder(self, uri: str) -> str:
        """The folder of the model ``runs:/<run>/<name>``, fetched if needed and verified against the run's pointer, in
        a new temporary folder: for serving it or copying it elsewhere."""
        return self.runs.model_folder(uri)

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run another name (its id and ref stay; an ended run's commit too, as :meth:`set_tag`)."""
        return self.runs.rename_run(run_id, name)

    def set_log(self, run_id: str, name: str, data: bytes, total_bytes: int) -> None:
        """Keep captured output of the run's command under ``.gittrack/run/logs/<name>.txt``."""
        return self.runs.set_log(run_id, name, data, total_bytes)

    def flush(self, run_id: str) -> None:
        """Write a checkpoint now."""
        return self.runs.flush(run_id)

    def detach(self, run_id: str) -> None:
        """Write what this process logged and stop writing the run, leaving its status as it is."""
        return self.runs.detach(run_id)

    def set_terminated(self, run_id: str, status: str = "FINISHED", error: dict[str, str] | None = None) -> None:
        """End a run with ``status`` (FINISHED, FAILED or KILLED) and write its final checkpoint."""
        return self.runs.set_terminated(run_id, status, error)

    def get_run(self, run_id: str) -> Run:
        """A run by id, unique id prefix, unique name or ref; a run this client is writing is read with what was logged
        since its last checkpoint (written first)."""
        return self.runs.get_run(run_id)

    def list_runs(self, experiment: str | None = None) -> list[Run]:
        """Every readable run (of one experiment if given), newest first; malformed runs are skipped."""
        return self.runs.list_runs(experiment)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, in logged order."""
        return self.runs.get_metric_history(run_id, key)

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[list[Metric]]:
        """The points of one metric of a run a segment (4096 points) at a time: for histories too long to hold in
        memory, such as ``gittrack metrics --csv`` of millions of points."""
        return self.runs.iter_metric_history(run_id, key)

    def get_metric_arrays(self, run_id: str, key: str) -> metricfile.Columns:
        """Every point of one metric as numpy arrays ``(step, timestamp, value)``, a named tuple: no Python object per
        point, so 100,000 points take milliseconds (charts, frames, stats)."""
        return self.runs.get_metric_arrays(run_id, key)

    def get_log(self, run_id: str, name: str) -> str | None:
        """Captured ``stdout``/``stderr`` of a ``gittrack run`` command, or None."""
        return self.runs.get_log(run_id, name)

    def get_requirements(self, run_id: str) -> str:
        """The run's installed packages, ``pip freeze`` form."""
        return self.runs.get_requirements(run_id)

    def delete_runs(self, run_ids: Iterable[str]) -> list[tuple[Run, str]]:
        """Delete runs (their refs move to ``refs/runs-deleted/``); returns each run and its new ref."""
        return self.runs.delete_runs(run_ids)

    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_runs` for one run."""
        return self.runs.restore_run(run_id)

    def metric_histories(self, run_id: str, keys: list[str] | None = None) -> dict[str, Iterator[list[Metric]]]:
        """Streams of the histories of ``keys`` (default: every metric of the run), a segment at a time; a key the run
        lacks is a ``NotFoundError`` naming the keys it has."""
        return self.runs.metric_histories(run_id, keys)

    # -- commands, checkout, reproduce, code (client.workspace) ------------------------------------
    def commit_files(self, paths: list[str], message: str) -> str:
        """Commit exactly ``paths`` (relative to the root, as they are in the work tree) on the current branch, leaving
        other changes as they were; returns the new commit id."""
        return self.workspace.commit_files(paths, message)

    def list_run_files(self, run_id: str, path: str = "") -> list[dict]:
        """The entries (``name``, ``path``, ``type``, ``size``) of a folder of the run's code snapshot."""
        return self.workspace.list_run_files(run_id, path)

    def read_run_file(self, run_id: str, path: str, max_bytes: int = 10 * 1024 * 1024) -> bytes:
        """A file of the run's code snapshot, as it was when the run started (at most ``max_bytes``)."""
        return self.workspace.read_run_file(run_id, path, max_bytes)

    def diff_run_source(self, run_id: str) -> dict:
        """The run's snapshot against its source commit: ``source_commit``, ``files`` (path, status, additions,
        deletions) and ``patch``: the uncommitted edits it ran with."""
        return self.workspace.diff_run_source(run_id)

    def compare_runs(self, run_ids: list[str]):
        """Runs side by side: params, metrics (best marked), data input hashes, source commits."""
        return self.workspace.compare_runs(run_ids)

    def diff_runs(self, run_a: str, run_b: str):
        """What differs between two runs: params, metrics, inputs, packages and the code."""
        return self.workspace.diff_runs(run_a, run_b)

    def checkout(
        self,
        run_id: str,
        branch: str | None = None,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[Run, Restored]:
        """Put a run's code, inputs and artifacts in the work tree (detached, or on a new ``branch``); returns the run
        and what was restored of its DVC data. Unsafe snapshots are refused."""
        return self.workspace.checkout(run_id, branch, force, progress)

    def reproduce(
        self,
        run_id: str,
        tolerance: float = 1e-6,
        metric_tolerances: Mapping[str, float] | None = None,
        keep: bool = False,
        on_stdout: Callable[[bytes], None] | None = None,
        on_stderr: Callable[[bytes], None] | None = None,
        allow_outside: bool = False,
        approve: Callable[[Plan], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Reproduction:
        """Re-run a run's command at its snapshot (a temporary worktree, its DVC data restored) and compare its metrics;
        ``approve`` sees the command first and may refuse it."""
        return self.workspace.reproduce(
            run_id, tolerance, metric_tolerances, keep, on_stdout, on_stderr, allow_outside, approve, progress
        )

    def run_command(
        self,
        command: list[str],
        experiment: str | None = None,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
        on_stderr: Callable[[bytes], None] | None = None,
        on_start: Callable[[Run], None] | None = None,
        cwd: str | os.PathLike | None = None,
        system_metrics: bool | None = None,
        parent_run_id: str | None = None,
        on_process: Callable[[subprocess.Popen], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> tuple[Run, int]:
        """Run ``command`` as a new run (``gittrack run``); returns the ended run and its exit code. ``system_metrics``:
        sample CPU, memory, disk, network and GPUs into ``system/`` metrics (None: as ``$GITTRACK_SYSTEM_METRICS`` or
        git config ``gittrack.systemMetrics`` say). ``parent_run_id`` nests the run; ``on_process`` gets the command's
        process once started, ``on_exit`` its exit code before the run ends (a sweep's pruning)."""
        return self.workspace.run_command(command, experiment, run_name, params, tags, on_stdout, on_stderr, on_start,
                                          cwd, system_metrics, parent_run_id, on_process, on_exit)  # fmt: skip

    # -- experiments (client.experiments) ----------------------------------------------------------
    def create_experiment(self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None):
        """Create an experiment with tags and a description (stored in git, shared by push/pull)."""
        return self.experiments.create(name, tags, description)

    def get_experiment(self, name: str):
        """An ``Experiment`` (name = id, tags, description, lifecycle_stage, run counts)."""
        return self.experiments.get(name)

    def list_experiments(self, view: str = "active"):
        """Every experiment with runs or metadata: ``active``, ``deleted`` or ``all``."""
        return self.experiments.list(view)

    def set_experiment_tags(self, name: str, tags: Mapping[str, Any]) -> None:
        """Set tags of an experiment (a value of None removes the tag)."""
        return self.experiments.set_tags(name, tags)

    def set_experiment_description(self, name: str, description: str | None) -> None:
        """Set (None: remove) an experiment's description."""
        return self.experiments.set_description(name, description)

    def delete_experiment(self, name: str) -> int:
        """Delete an experiment and its runs (restorable); returns how many runs were deleted."""
        return self.experiments.delete(name)

    def restore_experiment(self, name: str) -> int:
        """Restore a deleted experiment and its deleted runs; returns how many runs came back."""
        return self.experiments.restore(name)

    def experiment_names(self) -> list[str]:
        """The experiments that have runs (active, deleted or packed), sorted, from ref names alone."""
        return self.experiments.names()

    # -- search (client.search) --------------------------------------------------------------------
    def search_runs(
        self,
        experiment_names: list[str] | str | None = None,
        filter_string: str = "",
        order_by: list[str] | str | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        output_format: str = "pandas",
    ):
        """Find runs with MLflow's filter grammar (plus OR, NOT, parentheses), newest first by default."""
        return self.search.runs(experiment_names, filter_string, order_by, max_results, run_view, output_format)

    def find_rows(
        self,
        experiment_names: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        offset: int = 0,
    ):
        """Search without pandas: flat rows plus the runs that could not be read (for the CLI); ``offset`` skips the
        first matches (a page of a long list)."""
        return self.search.rows(experiment_names, filter_string, order_by, max_results, run_view, offset)

    def count_runs(
        self, experiment_names: list[str] | None = None, filter_string: str = "", run_view: str = "active"
    ) -> int:
        """How many runs match a filter, without reading them (the UI's total)."""
        return self.search.count(experiment_names, filter_string, run_view)

    def runs_of(self, rows) -> list[Run]:
        """``Run`` objects for rows returned by :meth:`find_rows`."""
        return self.search.runs_of(rows)

    def runs_table(
        self,
        experiments: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        limit: int | None = None,
        run_view: str = "active",
        columns: list[str] | None = None,
    ) -> RunsTable:
        """What ``gittrack runs list`` shows: the matching runs (at most ``limit``) as flat rows, the columns chosen by
        name or glob (``columns``), sort keys no run has, and unreadable runs."""
        return self.search.table(experiments, filter_string, order_by, limit, run_view, columns)

    # -- the model registry (client.registry) ------------------------------------------------------
    def register_model(
        self, model_uri: str, name: str, version: str | None = None, bump: str = "patch", message: str | None = None
    ) -> dict:
        """Register ``runs:/<run>/<artifact>`` as a new version of model ``name`` (a GTO tag). A run still running may
        be registered: the tag is on its checkpoint holding the model (written now when this client logged it), and
        stays valid as the run goes on (docs/registry.md)."""
        return self.registry.register_model(model_uri, name, version, bump, message)

    def promote_model(self, name: str, version: str, stage: str, archive_existing: bool = False) -> list[str]:
        """``registry.promote``: put a version in a stage (GTO assign tag); returns the tags written."""
        return self.registry.promote(name, version, stage, archive_existing)

    def demote_model(self, name: str, version: str, stage: str) -> str:
        """``registry.demote``: take a version out of a stage (GTO unassign tag)."""
        return self.registry.demote(name, version, stage)

    def deprecate_model(self, name: str, version: str | None = None) -> str:
        """``registry.deprecate``: a version, or the whole model when no version is given."""
        return self.registry.deprecate(name, version)

    def get_model_version(self, name: str, version_or_stage: str) -> dict:
        """A version by number (``v1.2.0``), stage (``production``) or ``latest`` (``registry.get``)."""
        return self.registry.get_version(name, version_or_stage)

    def search_model_versions(self, name: str | None = None):
        """Every registered version (of one model if given) as a DataFrame."""
        return self.registry.search_model_versions(name)

    def list_models(self) -> list[dict]:
        """Every model: ``model``, ``latest``, ``deprecated``, ``stages`` ({stage: version}), ``versions`` (a count);
        malformed registry tags are logged as warnings and skipped (``registry.list``)."""
        return self.registry.list_models()

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        """Record a model before its first version, with a description and tags (stored in git)."""
        return self.registry.create_registered_model(name, tags, description)

    def get_model_metadata(self, name: str, version: str | None = None):
        """Description and tags of a registered model, or of one of its versions (``v1.2.0``)."""
        return self.registry.get_model_metadata(name, version)

    def update_model_metadata(
        self, name: str, version: str | None = None, description: Any = ..., tags: Mapping[str, Any] | None = None
    ) -> None:
        """Set the description (None removes it) and tags (a None value removes one) of a registered model, or of one of
        its versions; kept in git notes that push and pull carry."""
        return self.registry.update_model_metadata(name, version, description, tags)

    def list_model_metadata(self) -> dict:
        """Every registered model with a metadata note: name -> ``Metadata``."""
        return self.registry.list_model_metadata()

    # -- promotions (client.promotions) ------------------------------------------------------------
    def list_promotion_requests(self) -> list[dict]:
        """Open promotion requests (``promotions.open_requests``), each with its Markdown ``report``."""
        return self.promotions.open_requests()

    # -- moving history in and out (client.migrate) ------------------------------------------------
    def import_mlflow(
        self,
        tracking_uri: str | None = None,
        experiments: Iterable[str] | None = None,
        registry: bool = True,
        dry_run: bool = False,
        progress=None,
    ):
        """Import an MLflow store's runs (and, with ``registry``, its registered models) as runs and registry tags here;
        runs imported before are skipped. Returns a ``MigrationReport``."""
        return self.migrate.import_mlflow(tracking_uri, experiments, registry, dry_run, progress)

    def import_dvc_experiments(self, experiment: str | None = None, all_commits: bool = False, progress=None):
        """Import the DVC experiments of this repository (``refs/exps``; those of HEAD, or of every commit) as runs of
        ``experiment`` whose snapshot is the experiment's commit; experiments imported before are skipped. Returns a
        ``MigrationReport``."""
        return self.migrate.import_dvc_experiments(experiment, all_commits, progress)

    def export_mlflow(
        self, tracking_uri: str, experiments: Iterable[str] | None = None, registry: bool = True, progress=None
    ):
        """Write this repository's runs (params, metric histories, tags, times, status, artifacts and models) and
        registry (versions, stages as aliases) into an MLflow store; runs exported before are skipped. Returns a
        ``MigrationReport``."""
        return self.migrate.export_mlflow(tracking_uri, experiments, registry, progress)

    def pack_runs(self, experiments: Iterable[str] | None = None, progress=None):
        """Move ended runs from a ref each into their experiment's index ref (``refs/runs-index/``), so pushes and
        fetches stay fast with many runs; returns a ``PackReport``."""
        return self.migrate.pack_runs(experiments, progress)
