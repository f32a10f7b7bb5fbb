"""The explicit client: every operation takes its run id. The fluent API delegates here."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gittrack.data.dvcstore import has_dvc
from gittrack.entities import Metric, Run
from gittrack.errors import ImmutableRunError, InvalidValueError, NotFoundError
from gittrack.store import runfiles, settings, starts
from gittrack.store.ids import short_id
from gittrack.store.naming import DEFAULT_EXPERIMENT
from gittrack.store.record import ENDED, FINISHED, STATUSES
from gittrack.store.repo import open_repo
from gittrack.store.writer import RunWriter

if TYPE_CHECKING:
    import pygit2

    from gittrack.data.restore import Restored
    from gittrack.search.service import RunsTable
    from gittrack.store import metricfile
    from gittrack.store.runstore import RunStore
    from gittrack.subclients import PromotionsClient, RegistryClient, RemoteClient
    from gittrack.workspace import Plan, Reproduction

_live_writers: weakref.WeakSet[RunWriter] = weakref.WeakSet()
_live_lock = threading.Lock()


def _flush_live_writers() -> None:
    """At interpreter exit, commit whatever is still buffered so no logged point is lost."""
    with _live_lock:
        writers = list(_live_writers)
    for writer in writers:
        writer.stop_heartbeat()
        with contextlib.suppress(Exception):  # nothing is left to report to at exit
            writer.checkpoint()


atexit.register(_flush_live_writers)


class Client:
    """Access to the runs of one repository (``repo``: a path inside it, default: the current folder)."""

    def __init__(self, repo: str | os.PathLike | None = None) -> None:
        self._repo: pygit2.Repository = open_repo(repo)
        self._writers: dict[str, RunWriter] = {}

    @functools.cached_property
    def _store(self) -> RunStore:
        """The read side (imported on first use: recording a run never reads one)."""
        from gittrack.store.runstore import RunStore

        return RunStore(self._repo)

    @property
    def repo_path(self) -> str:
        """The root of the repository's work tree."""
        return self._repo.workdir

    @property
    def registry(self) -> RegistryClient:
        """The model registry: ``register``, ``promote``, ``show``, ``lineage``... (``gittrack models``)."""
        from gittrack.subclients import RegistryClient

        return RegistryClient(self, self._repo)

    @property
    def promotions(self) -> PromotionsClient:
        """Reviewed promotions and the policy: ``request``, ``check``, ``apply``... (``gittrack promotions``)."""
        from gittrack.subclients import PromotionsClient

        return PromotionsClient(self, self._repo)

    @property
    def remote(self) -> RemoteClient:
        """Sharing: ``push``, ``pull``, ``setup`` (``gittrack push``, ``pull``, ``remote setup``)."""
        from gittrack.subclients import RemoteClient

        return RemoteClient(self, self._repo)

    def commit_files(self, paths: list[str], message: str) -> str:
        """Commit exactly ``paths`` (relative to the root, as they are in the work tree) on the current
        branch, leaving other changes as they were; returns the new commit id."""
        from gittrack.initialize import commit_files

        return commit_files(self.repo_path, paths, message)

    # -- writing --------------------------------------------------------------------------
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
    ) -> Run:
        """Start a run: snapshot the workspace, write its first checkpoint, start its heartbeat.

        ``deferred``: leave the first commit to the first checkpoint (``checkpoint_interval`` later)
        or to the end of the run, whichever comes first, so that a short run is one commit (the
        fluent API's runs). Until then this process sees the run, other processes do not, and a
        start record in ``.git/gittrack/starts/`` stands for it should the process be killed
        (docs/format.md)."""
        from gittrack.store.environment import process_argv

        writer = RunWriter.create(
            self._repo,
            experiment or os.environ.get("GITTRACK_EXPERIMENT") or DEFAULT_EXPERIMENT,
            run_name=run_name,
            parent_run=parent_run_id,
            argv=command if command is not None else process_argv(),
            launcher=launcher,
            interval=settings.checkpoint_interval(self._repo),
            max_file_bytes=settings.max_file_bytes(self._repo),
            cwd=cwd,
        )
        for key, value in (params or {}).items():
            writer.log_param(key, value)
        for key, value in (tags or {}).items():
            writer.set_tag(key, value)
        if has_dvc(self._repo.workdir):
            from gittrack.artifacts import workspace_inputs

            writer.add_inputs(workspace_inputs(self._repo, writer.snapshot_tree))
        if deferred:
            record = starts.begin(writer)
            self._adopt(writer)
            return Run.from_record(record, writer.ref, None, status=record.status)
        writer.checkpoint()
        self._adopt(writer)
        return self._run_of(writer)

    def attach_run(self, run_id: str) -> Run:
        """Log into an existing RUNNING run from this process (as a script under ``gittrack run`` does)."""
        writer = self._writer(run_id)
        return self._run_of(writer)

    def move_run(self, run_id: str, experiment: str) -> Run:
        """Put a RUNNING run in another experiment (its ref and record both say so); the run of
        ``gittrack run`` without ``-e`` moves to the experiment its script starts runs in."""
        writer = self._writer(run_id)
        writer.move(experiment)
        return self._run_of(writer)

    def _adopt(self, writer: RunWriter) -> None:
        self._writers[writer.run_id] = writer
        with _live_lock:
            _live_writers.add(writer)
        writer.start_heartbeat()

    def _writer(self, run_id: str) -> RunWriter:
        writer = self._writers.get(run_id)
        if writer is None:
            ref = self._store.resolve(run_id)
            if ref.packed:  # only ended runs are packed
                status = self._store.read(ref).record.status
                raise ImmutableRunError(f"run {short_id(ref.run_id)} has already ended ({status})")
            writer = self._writers.get(ref.run_id)
            if writer is None:
                writer = RunWriter.attach(self._repo, ref.name, settings.checkpoint_interval(self._repo))
                self._adopt(writer)
        if writer.background_error is not None:
            raise writer.background_error
        return writer

    def _run_of(self, writer: RunWriter) -> Run:
        """The run as of its last checkpoint (before its first: as its start record keeps it)."""
        record = writer.record if writer.commit is not None else writer.pending_record()
        return Run.from_record(record, writer.ref, writer.commit, status=record.status)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Record a param (stored as a string, with its original type); params never change."""
        self._writer(run_id).log_param(key, value)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record several params."""
        writer = self._writer(run_id)
        for key, value in _mapping(params, "params").items():
            writer.log_param(key, value)

    def log_metric(
        self, run_id: str, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Buffer one metric point (written at the next checkpoint)."""
        self._writer(run_id).log_metric(key, value, step, timestamp)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Buffer several metric points at the same step and time."""
        from gittrack.store.timefmt import now_ms

        writer = self._writer(run_id)
        timestamp = now_ms()
        for key, value in _mapping(metrics, "metrics").items():
            writer.log_metric(key, value, step, timestamp)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (stored as a string) of any run: a RUNNING run records it, an ended one keeps it
        as an edit beside its unchanged commit (docs/tracking.md); ``mlflow.runName`` renames it."""
        self._edit(run_id, {key: str(value)})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags (as :meth:`set_tag`)."""
        self._edit(run_id, {key: str(value) for key, value in _mapping(tags, "tags").items()})

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of a run (as :meth:`set_tag`)."""
        self._edit(run_id, {key: None})

    def edit_run(
        self, run_id: str, tags: Mapping[str, Any] | None = None, name: str | None = None, description: Any = ...
    ) -> Run:
        """Change a run's tags (a value of None removes the tag), its name and its description
        (MLflow's ``mlflow.note.content`` tag; None or empty removes it) in one edit, as
        :meth:`set_tag` does; returns the run as it is now."""
        changes = {key: None if value is None else str(value) for key, value in _mapping(tags or {}, "tags").items()}
        if description is not ...:
            changes["mlflow.note.content"] = None if description in (None, "") else str(description)
        spec = self.get_run(run_id).info.run_id
        attached = spec in self._writers
        try:
            self._edit(spec, changes, name)
        finally:
            if not attached:  # a writer opened for this edit writes it and lets go
                self.detach(spec)
        return self.get_run(spec)

    def _edit(self, run_id: str, tags: dict[str, Any], name: str | None = None) -> None:
        """Change tags (a value of None removes the tag) and the name of a run: through the writer of a
        RUNNING run, as a note on the commit of an ended (or packed) one (``store.annotations``)."""
        from gittrack.store import annotations

        if tags.get("mlflow.runName") is not None:  # MLflow's name tag is the run's name
            name = str(tags.pop("mlflow.runName"))
        writer = self._writers.get(run_id)
        if writer is None:
            ref = self._store.resolve(run_id)
            if ref.packed or runfiles.read_summary(self._repo, ref.commit).status in ENDED:
                annotations.write(self._repo, ref.commit, tags, name)
                return
            try:
                writer = self._writer(run_id)
            except ImmutableRunError:  # it ended since we looked
                annotations.write(self._repo, self._store.resolve(run_id).commit, tags, name)
                return
        if name is not None:
            writer.set_name(name)
        for key, value in tags.items():
            if value is None:
                writer.delete_tag(key)
            else:
                writer.set_tag(key, value)

    def log_input(self, run_id: str, path: str | os.PathLike, name: str | None = None, track: bool = False) -> dict:
        """Record the DVC hash of a data file or folder the run used (``track``: also ``dvc add`` it)."""
        from gittrack.artifacts import log_input

        return log_input(self._writer(run_id), path, name, track)

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
        """Record a dataset (name, digest, context, tags; a local ``path`` is also hashed by DVC),
        searchable as ``dataset.name``, ``dataset.digest`` and ``dataset.context``; ``source_type``,
        ``schema`` and ``profile`` are MLflow's fields of a dataset (see ``gittrack.data.datasets``).
        A dataset is recorded once per name and digest in a run, with the context it was first
        logged with."""
        from gittrack.artifacts import log_dataset

        return log_dataset(self._writer(run_id), name, digest, context, path, source, dict(tags or {}),
                           source_type=source_type, schema=schema, profile=profile)  # fmt: skip

    def log_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> dict:
        """Store a file or folder in the DVC cache and point to it from the run."""
        from gittrack.artifacts import log_artifact

        return log_artifact(self._writer(run_id), local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
        """Store a folder's content (one folder artifact at ``artifact_path``, or each entry at the root)."""
        from gittrack.artifacts import log_artifacts

        return log_artifacts(self._writer(run_id), local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[dict]:
        """The artifacts of a run: path, md5, size, nfiles, kind. With ``path``, those under that
        folder; inside a folder logged as one artifact, its files (kind ``file``)."""
        from gittrack.artifacts import list_artifacts

        return list_artifacts(self._repo, self.get_run(run_id), path)

    def download_artifacts(self, run_id: str, path: str | None = None, dst: str | os.PathLike | None = None) -> str:
        """Materialise artifacts from the DVC cache (fetching from the DVC remote when missing).
        ``path`` is an artifact, a folder of artifacts, or a file or folder inside a folder artifact."""
        from gittrack.artifacts import download_artifacts

        return download_artifacts(self._repo, self.get_run(run_id), path, dst)

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
        """Save a model (flavor detected when not given) with its model.yaml, as artifact ``name``;
        ``serialization``, ``extra`` and ``entry``: see ``gittrack.flavors.log_model``."""
        from gittrack.flavors import log_model

        writer = self._writer(run_id)
        return log_model(writer, model, name, flavor, signature, input_example, pip_requirements, serialization, extra,
                         dict(entry or {}))  # fmt: skip

    def load_model(self, uri: str) -> Any:
        """Load ``runs:/<run>/<name>`` or ``MODEL@<version|stage|latest>``: fetched if needed,
        verified against the run's pointer, then loaded."""
        from gittrack.flavors import load, parse_uri

        if not uri.startswith("runs:/") and "@" in uri:
            from gittrack.registry.service import load as load_registered

            return load_registered(self._repo, uri)
        run, path = parse_uri(uri)
        return load(self._repo, self.get_run(run), path)

    def model_folder(self, uri: str) -> str:
        """The folder of the model ``runs:/<run>/<name>``, fetched if needed and verified against the
        run's pointer, in a new temporary folder: load it with ``gittrack.flavors.load_folder``."""
        from gittrack.flavors import materialise, parse_uri

        run, path = parse_uri(uri)
        return str(materialise(self._repo, self.get_run(run), path))

    # -- experiments ----------------------------------------------------------------------
    def create_experiment(self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None):
        """Create an experiment with tags and a description (stored in git, shared by push/pull)."""
        from gittrack.experiments import create_experiment

        return create_experiment(self._repo, name, dict(tags or {}), description)

    def get_experiment(self, name: str):
        """An ``Experiment`` (name = id, tags, description, lifecycle_stage, run counts)."""
        from gittrack.experiments import get_experiment

        return get_experiment(self._repo, name)

    def list_experiments(self, view: str = "active"):
        """Every experiment with runs or metadata: ``active``, ``deleted`` or ``all``."""
        from gittrack.experiments import list_experiments

        return list_experiments(self._repo, view)

    def set_experiment_tags(self, name: str, tags: Mapping[str, Any]) -> None:
        """Set tags of an experiment (a value of None removes the tag)."""
        from gittrack.experiments import set_tags

        set_tags(self._repo, name, dict(tags))

    def set_experiment_description(self, name: str, description: str | None) -> None:
        """Set (None: remove) an experiment's description."""
        from gittrack.experiments import set_description

        set_description(self._repo, name, description)

    def delete_experiment(self, name: str) -> int:
        """Delete an experiment and its runs (restorable); returns how many runs were deleted."""
        from gittrack.experiments import delete_experiment

        return delete_experiment(self._repo, name)

    def restore_experiment(self, name: str) -> int:
        """Restore a deleted experiment and its deleted runs; returns how many runs came back."""
        from gittrack.experiments import restore_experiment

        return restore_experiment(self._repo, name)

    # -- registry -------------------------------------------------------------------------
    def register_model(
        self, model_uri: str, name: str, version: str | None = None, bump: str = "patch", message: str | None = None
    ) -> dict:
        """Register ``runs:/<run>/<artifact>`` as a new version of model ``name`` (a GTO tag). A run
        still running may be registered: the tag is on its checkpoint holding the model (written
        now when this client logged it), and stays valid as the run goes on (docs/registry.md)."""
        from gittrack.flavors import parse_uri
        from gittrack.registry.service import version_dict

        run, artifact = parse_uri(model_uri)
        run = self.get_run(run).info.run_id  # a run this client writes: its last logs committed first
        return version_dict(self._repo, self.registry.register(name, run, artifact, version, bump, message))

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
        return self.registry.get(f"{name}@{version_or_stage}")

    def search_model_versions(self, name: str | None = None):
        """Every registered version (of one model if given) as a DataFrame."""
        import pandas as pd

        from gittrack.registry.service import list_models, show

        names = [name] if name else [m["model"] for m in list_models(self._repo)[0]]
        rows = []
        for model in names:
            for v in show(self._repo, model)["versions"]:
                rows.append({"model": model, "version": v["version"], "active": v["active"],
                             "stages": ",".join(v["stages"]), "run_id": v["run_id"], "artifact": v["artifact"],
                             "registered_at": pd.Timestamp(v["registered_at"], unit="s", tz="UTC"),
                             "registered_by": v["registered_by"], "commit": v["commit"]})  # fmt: skip
        columns = [
            "model",
            "version",
            "active",
            "stages",
            "run_id",
            "artifact",
            "registered_at",
            "registered_by",
            "commit",
        ]
        return pd.DataFrame(rows, columns=columns)

    def experiment_names(self) -> list[str]:
        """The experiments that have runs (active, deleted or packed), sorted, from ref names alone."""
        from gittrack.store.runstore import experiment_names

        return experiment_names(self._repo)

    def list_models(self) -> list[dict]:
        """Every model: ``model``, ``latest``, ``deprecated``, ``stages`` ({stage: version}), ``versions``
        (a count); malformed registry tags are logged as warnings and skipped (``registry.list``)."""
        import logging

        found, problems = self.registry.list()
        for problem in problems:
            logging.getLogger("gittrack").warning("gittrack: %s", problem)
        return found

    def list_promotion_requests(self) -> list[dict]:
        """Open promotion requests (``promotions.open_requests``), each with its Markdown ``report``."""
        return self.promotions.open_requests()

    def list_run_files(self, run_id: str, path: str = "") -> list[dict]:
        """The entries (``name``, ``path``, ``type``, ``size``) of a folder of the run's code snapshot."""
        from gittrack.snapshots import list_files

        return list_files(self._repo, self.get_run(run_id), path)

    def read_run_file(self, run_id: str, path: str, max_bytes: int = 10 * 1024 * 1024) -> bytes:
        """A file of the run's code snapshot, as it was when the run started (at most ``max_bytes``)."""
        from gittrack.snapshots import read_file

        return read_file(self._repo, self.get_run(run_id), path, max_bytes)

    def diff_run_source(self, run_id: str) -> dict:
        """The run's snapshot against its source commit: ``source_commit``, ``files`` (path, status,
        additions, deletions) and ``patch``: the uncommitted edits it ran with."""
        from gittrack.snapshots import source_diff

        return source_diff(self._repo, self.get_run(run_id))

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        """Record a model before its first version, with a description and tags (stored in git)."""
        from gittrack.errors import UsageError
        from gittrack.registry import meta

        if name in meta.models_with_metadata(self._repo) or name in {m["model"] for m in self.registry.list()[0]}:
            raise UsageError(f"registered model {name!r} exists already")
        meta.update_model(self._repo, name, description if description is not None else ..., dict(tags or {}))

    def get_model_metadata(self, name: str, version: str | None = None):
        """Description and tags of a registered model, or of one of its versions (``v1.2.0``)."""
        from gittrack.registry import meta

        if version is None:
            return meta.model_metadata(self._repo, name)
        return meta.version_metadata(self._repo, self.get_model_version(name, version)["tag"])

    def update_model_metadata(
        self, name: str, version: str | None = None, description: Any = ..., tags: Mapping[str, Any] | None = None
    ) -> None:
        """Set the description (None removes it) and tags (a None value removes one) of a registered
        model, or of one of its versions; kept in git notes that push and pull carry."""
        from gittrack.registry import meta

        if version is None:
            meta.update_model(self._repo, name, description, dict(tags or {}))
        else:
            tag = self.get_model_version(name, version)["tag"]
            meta.update_version(self._repo, tag, description, dict(tags or {}))

    def list_model_metadata(self) -> dict:
        """Every registered model with a metadata note: name -> ``Metadata``."""
        from gittrack.registry import meta

        return meta.models_with_metadata(self._repo)

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run another name (its id and ref stay; an ended run's commit too, as :meth:`set_tag`)."""
        self._edit(run_id, {}, name)

    def set_log(self, run_id: str, name: str, data: bytes, total_bytes: int) -> None:
        """Keep captured output of the run's command under ``.gittrack/run/logs/<name>.txt``."""
        self._writer(run_id).set_log(name, data, total_bytes)

    def flush(self, run_id: str) -> None:
        """Write a checkpoint now."""
        self._writer(run_id).checkpoint()

    def detach(self, run_id: str) -> None:
        """Write what this process logged and stop writing the run, leaving its status as it is."""
        writer = self._writers.pop(run_id, None)
        if writer is not None:
            writer.stop_heartbeat()
            writer.checkpoint()

    def set_terminated(self, run_id: str, status: str = FINISHED, error: dict[str, str] | None = None) -> None:
        """End a run with ``status`` (FINISHED, FAILED or KILLED) and write its final checkpoint."""
        check_end_status(status)
        writer = self._writer(run_id)
        if writer.record.status in ENDED:
            raise ImmutableRunError(f"run {short_id(writer.run_id)} has already ended ({writer.record.status})")
        writer.finish(status, error)
        self._writers.pop(writer.run_id, None)
        with _live_lock:
            _live_writers.discard(writer)

    # -- reading --------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """A run by id, unique id prefix, unique name or ref; a run this client is writing is read
        with what was logged since its last checkpoint (written first)."""
        stored = self._store.get(run_id)
        writer = self._writers.get(stored.record.id)
        if writer is not None and writer.has_pending():
            writer.checkpoint()
            stored = self._store.get(run_id)
        return Run.from_stored(stored)

    def list_runs(self, experiment: str | None = None) -> list[Run]:
        """Every readable run (of one experiment if given), newest first; malformed runs are skipped."""
        import logging

        runs, problems = self._store.runs(experiment)
        if experiment is not None and not runs:
            from gittrack.search.service import require_experiments

            require_experiments(self._repo, [experiment])
        for problem in problems:
            logging.getLogger("gittrack").warning("gittrack: skipped %s", problem)
        return [Run.from_stored(stored) for stored in runs]

    def search_runs(
        self,
        experiment_names: list[str] | str | None = None,
        filter_string: str = "",
        order_by: list[str] | str | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        output_format: str = "pandas",
    ):
        """Find runs with MLflow's filter grammar (plus OR, NOT, parentheses), newest first by default.

        Returns a pandas DataFrame (``run_id``, ``status``, ``start_time``, ``params.x``,
        ``metrics.y``, ``tags.z``...) or, with ``output_format="list"``, ``Run`` objects.
        ``run_view``: ``active``, ``deleted`` or ``all``.
        """
        from gittrack.search.service import search_runs

        return search_runs(self._repo, experiment_names, filter_string, order_by, max_results, run_view, output_format)

    def find_rows(
        self,
        experiment_names: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        max_results: int | None = None,
        run_view: str = "active",
        offset: int = 0,
    ):
        """Search without pandas: flat rows plus the runs that could not be read (for the CLI);
        ``offset`` skips the first matches (a page of a long list)."""
        from gittrack.search.service import find_rows

        return find_rows(self._repo, experiment_names, filter_string, order_by, max_results, run_view, offset=offset)

    def count_runs(
        self, experiment_names: list[str] | None = None, filter_string: str = "", run_view: str = "active"
    ) -> int:
        """How many runs match a filter, without reading them (the UI's total)."""
        from gittrack.search.service import count_runs

        return count_runs(self._repo, experiment_names, filter_string, run_view)

    def runs_of(self, rows) -> list[Run]:
        """``Run`` objects for rows returned by :meth:`find_rows`."""
        from gittrack.search.service import runs_of

        return runs_of(self._repo, rows)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, in logged order."""
        return [point for segment in self.iter_metric_history(run_id, key) for point in segment]

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[list[Metric]]:
        """The points of one metric of a run a segment (4096 points) at a time: for histories too
        long to hold in memory, such as ``gittrack metrics --csv`` of millions of points."""
        ref = self._store.resolve(run_id)
        for segment in runfiles.iter_history(self._repo, ref.commit, key):
            yield [Metric(key, v, s, t) for s, t, v in segment]

    def get_metric_arrays(self, run_id: str, key: str) -> metricfile.Columns:
        """Every point of one metric as numpy arrays ``(step, timestamp, value)``, a named tuple:
        no Python object per point, so 100,000 points take milliseconds (charts, frames, stats)."""
        ref = self._store.resolve(run_id)
        return runfiles.read_history_columns(self._repo, ref.commit, key)

    def compare_runs(self, run_ids: list[str]):
        """Runs side by side: params, metrics (best marked), data input hashes, source commits."""
        from gittrack.compare import compare

        return compare([self.get_run(spec) for spec in run_ids])

    def diff_runs(self, run_a: str, run_b: str):
        """What differs between two runs: params, metrics, inputs, packages and the code."""
        from gittrack.compare import diff

        return diff(self._repo, self.get_run(run_a), self.get_run(run_b))

    def get_log(self, run_id: str, name: str) -> str | None:
        """Captured ``stdout``/``stderr`` of a ``gittrack run`` command, or None."""
        data = runfiles.read_log(self._repo, self._store.resolve(run_id).commit, name)
        return None if data is None else data.decode("utf-8", "replace")

    def get_requirements(self, run_id: str) -> str:
        """The run's installed packages, ``pip freeze`` form."""
        return runfiles.read_requirements(self._repo, self._store.resolve(run_id).commit)

    def delete_runs(self, run_ids: Iterable[str]) -> list[tuple[Run, str]]:
        """Delete runs (their refs move to ``refs/runs-deleted/``); returns each run and its new ref."""
        resolved = [self._store.get(spec) for spec in run_ids]
        return [(Run.from_stored(stored), self._store.delete(stored.ref)) for stored in resolved]

    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_runs` for one run."""
        return Run.from_stored(self._store.read(self._store.restore(run_id)))

    def runs_table(
        self,
        experiments: list[str] | None = None,
        filter_string: str = "",
        order_by: list[str] | None = None,
        limit: int | None = None,
        run_view: str = "active",
        columns: list[str] | None = None,
    ) -> RunsTable:
        """What ``gittrack runs list`` shows: the matching runs (at most ``limit``) as flat rows, the
        columns chosen by name or glob (``columns``), sort keys no run has, and unreadable runs."""
        from gittrack.search.service import runs_table

        return runs_table(self._repo, experiments, filter_string, order_by, limit, run_view, columns)

    def metric_histories(self, run_id: str, keys: list[str] | None = None) -> dict[str, Iterator[list[Metric]]]:
        """Streams of the histories of ``keys`` (default: every metric of the run), a segment at a
        time; a key the run lacks is a ``NotFoundError`` naming the keys it has."""
        run = self.get_run(run_id)
        wanted = list(keys or run.data.metrics)
        missing = [k for k in wanted if k not in run.data.metrics]
        if missing:
            known = ", ".join(run.data.metrics) or "none"
            raise NotFoundError(f"run {run.info.run_name} has no metric {missing[0]!r}; it has: {known}")
        return {key: self.iter_metric_history(run.info.run_id, key) for key in wanted}

    def checkout(
        self,
        run_id: str,
        branch: str | None = None,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[Run, Restored]:
        """Put a run's code, inputs and artifacts in the work tree (detached, or on a new ``branch``);
        returns the run and what was restored of its DVC data. Unsafe snapshots are refused."""
        from gittrack.workspace import checkout

        return checkout(self._repo, run_id, branch, force, progress)

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
        """Re-run a run's command at its snapshot (a temporary worktree, its DVC data restored) and
        compare its metrics; ``approve`` sees the command first and may refuse it."""
        from gittrack.workspace import reproduce

        return reproduce(self._repo, self, run_id, tolerance, dict(metric_tolerances or {}), keep, on_stdout,
                         on_stderr, allow_outside, approve, progress)  # fmt: skip

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
    ) -> tuple[Run, int]:
        """Run ``command`` as a new run (``gittrack run``); returns the ended run and its exit code.
        ``system_metrics``: sample CPU, memory, disk, network and GPUs into ``system/`` metrics
        (None: as ``$GITTRACK_SYSTEM_METRICS`` or git config ``gittrack.systemMetrics`` say)."""
        from gittrack.runner import run_command

        return run_command(
            self, command, experiment, run_name, params, tags, on_stdout, on_stderr, on_start, cwd, system_metrics
        )

    # -- moving history in and out (docs/migrate.md) -------------------------------------
    def import_mlflow(
        self,
        tracking_uri: str | None = None,
        experiments: Iterable[str] | None = None,
        registry: bool = True,
        dry_run: bool = False,
        progress=None,
    ):
        """Import an MLflow store's runs (and, with ``registry``, its registered models) as runs
        and registry tags here; runs imported before are skipped. Returns a ``MigrationReport``."""
        from gittrack.migrate.mlflow_import import import_mlflow

        return import_mlflow(self._repo, tracking_uri, experiments, registry, dry_run, progress)

    def import_dvc_experiments(self, experiment: str | None = None, all_commits: bool = False, progress=None):
        """Import the DVC experiments of this repository (``refs/exps``; those of HEAD, or of every
        commit) as runs of ``experiment`` whose snapshot is the experiment's commit; experiments
        imported before are skipped. Returns a ``MigrationReport``."""
        from gittrack.migrate.dvc_import import import_dvc_experiments

        return import_dvc_experiments(self._repo, experiment or DEFAULT_EXPERIMENT, all_commits, progress)

    def export_mlflow(
        self, tracking_uri: str, experiments: Iterable[str] | None = None, registry: bool = True, progress=None
    ):
        """Write this repository's runs (params, metric histories, tags, times, status, artifacts and
        models) and registry (versions, stages as aliases) into an MLflow store; runs exported
        before are skipped. Returns a ``MigrationReport``."""
        from gittrack.migrate.mlflow_export import export_mlflow

        return export_mlflow(self, tracking_uri, experiments, registry, progress)

    def pack_runs(self, experiments: Iterable[str] | None = None, progress=None):
        """Move ended runs from a ref each into their experiment's index ref (``refs/runs-index/``),
        so pushes and fetches stay fast with many runs; returns a ``PackReport``."""
        from gittrack.store.packing import pack_runs

        return pack_runs(self._repo, None if experiments is None else list(experiments), progress)


def check_end_status(status: Any) -> str:
    """``status`` if a run can end with it (FINISHED, FAILED, KILLED), else ``InvalidValueError``."""
    if status not in STATUSES or status not in ENDED:
        raise InvalidValueError(
            f"status {status!r} is not one of {', '.join(sorted(ENDED))}; the run was left as it was"
        )
    return status


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{what} must be a mapping of names to values, got {type(value).__name__}")
    return value
