"""Runs as the API writes and reads them: starting, logging, editing, ending, reading, deleting.

``RunService`` keeps the writers of the runs this process records (one per run, committed at
exit by a weak registry so no logged point is lost) over a :class:`Repository`. ``Client.runs``
is one; the fluent API, the MLflow layer, ``gittrack run``, checkout and reproduce use it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gittrack._data.dvcstore import has_dvc
from gittrack._entities import Metric, Run
from gittrack._store import runfiles, starts
from gittrack._store.ids import short_id
from gittrack._store.naming import DEFAULT_EXPERIMENT
from gittrack._store.record import ENDED, FINISHED, STATUSES
from gittrack._store.writer import RunWriter
from gittrack.errors import ImmutableRunError, InvalidValueError, NotFoundError

if TYPE_CHECKING:
    from gittrack._store import metricfile
    from gittrack._store.repository import Repository

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


class RunService:
    """The runs of one repository: what ``Client``'s run methods do (``client.runs``)."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._writers: dict[str, RunWriter] = {}

    @property
    def repo(self) -> Repository:
        """The repository the runs are in."""
        return self._repo

    @property
    def repo_path(self) -> str:
        """The root of the repository's work tree."""
        return self._repo.workdir

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

        ``deferred``: leave the first commit to the first checkpoint (``checkpoint_interval`` later)
        or to the end of the run, whichever comes first, so that a short run is one commit (the
        fluent API's runs). Until then this process sees the run, other processes do not, and a
        start record in ``.git/gittrack/starts/`` stands for it should the process be killed
        (docs/format.md).

        ``commit``: the run's code is that commit of the repository (it ran elsewhere, on a clone
        at that commit: a client of ``gittrack server``), not the work tree; ``command`` is then
        looked up in the commit."""
        from gittrack._store.environment import process_argv

        writer = self._repo.new_writer(
            experiment or os.environ.get("GITTRACK_EXPERIMENT") or DEFAULT_EXPERIMENT,
            run_name,
            parent_run_id,
            command if command is not None else process_argv(),
            launcher,
            cwd,
            commit,
        )
        for key, value in (params or {}).items():
            writer.log_param(key, value)
        for key, value in (tags or {}).items():
            writer.set_tag(key, value)
        if has_dvc(self._repo.workdir):
            from gittrack._artifacts import workspace_inputs

            writer.add_inputs(workspace_inputs(self._repo.git, writer.snapshot_tree))
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
            ref = self._repo.runs.resolve(run_id)
            if ref.packed:  # only ended runs are packed
                status = self._repo.runs.read(ref).record.status
                raise ImmutableRunError(f"run {short_id(ref.run_id)} has already ended ({status})")
            writer = self._writers.get(ref.run_id)
            if writer is None:
                writer = self._repo.attach_writer(ref.name)
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
        from gittrack._store.timefmt import now_ms

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
        if tags.get("mlflow.runName") is not None:  # MLflow's name tag is the run's name
            name = str(tags.pop("mlflow.runName"))
        writer = self._writers.get(run_id)
        if writer is None:
            ref = self._repo.runs.resolve(run_id)
            if ref.packed or runfiles.read_summary(self._repo.git, ref.commit).status in ENDED:
                self._repo.annotate(ref.commit, tags, name)
                return
            try:
                writer = self._writer(run_id)
            except ImmutableRunError:  # it ended since we looked
                self._repo.annotate(self._repo.runs.resolve(run_id).commit, tags, name)
                return
        if name is not None:
            writer.set_name(name)
        for key, value in tags.items():
            if value is None:
                writer.delete_tag(key)
            else:
                writer.set_tag(key, value)

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run another name (its id and ref stay; an ended run's commit too, as :meth:`set_tag`)."""
        self._edit(run_id, {}, name)

    def log_input(self, run_id: str, path: str | os.PathLike, name: str | None = None, track: bool = False) -> dict:
        """Record the DVC hash of a data file or folder the run used (``track``: also ``dvc add`` it)."""
        from gittrack._artifacts import log_input

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
        ``schema`` and ``profile`` are MLflow's fields of a dataset (docs/data.md).
        A dataset is recorded once per name and digest in a run, with the context it was first
        logged with."""
        from gittrack._artifacts import log_dataset

        return log_dataset(self._writer(run_id), name, digest, context, path, source, dict(tags or {}),
                           source_type=source_type, schema=schema, profile=profile)  # fmt: skip

    def log_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> dict:
        """Store a file or folder in the DVC cache and point to it from the run."""
        from gittrack._artifacts import log_artifact

        return log_artifact(self._writer(run_id), local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
        """Store a folder's content (one folder artifact at ``artifact_path``, or each entry at the root)."""
        from gittrack._artifacts import log_artifacts

        return log_artifacts(self._writer(run_id), local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[dict]:
        """The artifacts of a run: path, md5, size, nfiles, kind. With ``path``, those under that
        folder; inside a folder logged as one artifact, its files (kind ``file``)."""
        from gittrack._artifacts import list_artifacts

        return list_artifacts(self._repo.git, self.get_run(run_id), path)

    def download_artifacts(self, run_id: str, path: str | None = None, dst: str | os.PathLike | None = None) -> str:
        """Materialise artifacts from the DVC cache (fetching from the DVC remote when missing).
        ``path`` is an artifact, a folder of artifacts, or a file or folder inside a folder artifact."""
        from gittrack._artifacts import download_artifacts

        return download_artifacts(self._repo.git, self.get_run(run_id), path, dst)

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
        ``serialization``, ``extra`` and ``entry``: see docs/registry.md."""
        from gittrack._flavors import log_model

        writer = self._writer(run_id)
        return log_model(writer, model, name, flavor, signature, input_example, pip_requirements, serialization, extra,
                         dict(entry or {}))  # fmt: skip

    def log_model_folder(
        self, run_id: str, local_dir: str | os.PathLike, name: str = "model", entry: Mapping[str, Any] | None = None
    ) -> dict:
        """Log a model folder saved elsewhere (MLflow's layout, written by an MLflow client) as the
        run's model ``name``: an artifact of kind ``model``, its record entry holding ``entry``
        (MLflow 3's logged-model fields: ``model_params``, ``model_tags``, ``model_type``,
        ``model_step``, ``model_time``)."""
        from pathlib import Path

        from gittrack._artifacts import log_entry
        from gittrack._store import naming

        folder, _, base = name.rpartition("/")
        path = naming.artifact_path(folder or None, base)
        return log_entry(self._writer(run_id), Path(local_dir), path, "model", dict(entry or {}))

    def load_model(self, uri: str) -> Any:
        """Load ``runs:/<run>/<name>`` or ``MODEL@<version|stage|latest>``: fetched if needed,
        verified against the run's pointer, then loaded."""
        from gittrack._flavors import load, parse_uri

        if not uri.startswith("runs:/") and "@" in uri:
            from gittrack._registry.service import load as load_registered

            return load_registered(self._repo.git, uri)
        run, path = parse_uri(uri)
        return load(self._repo.git, self.get_run(run), path)

    def model_folder(self, uri: str) -> str:
        """The folder of the model ``runs:/<run>/<name>``, fetched if needed and verified against the
        run's pointer, in a new temporary folder: for serving it or copying it elsewhere."""
        from gittrack._flavors import materialise, parse_uri

        run, path = parse_uri(uri)
        return str(materialise(self._repo.git, self.get_run(run), path))

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

    def get_run(self, run_id: str) -> Run:
        """A run by id, unique id prefix, unique name or ref; a run this client is writing is read
        with what was logged since its last checkpoint (written first)."""
        stored = self._repo.runs.get(run_id)
        writer = self._writers.get(stored.record.id)
        if writer is not None and writer.has_pending():
            writer.checkpoint()
            stored = self._repo.runs.get(run_id)
        return Run.from_stored(stored)

    def list_runs(self, experiment: str | None = None) -> list[Run]:
        """Every readable run (of one experiment if given), newest first; malformed runs are skipped."""
        import logging

        runs, problems = self._repo.runs.runs(experiment)
        if experiment is not None and not runs:
            from gittrack._search.service import require_experiments

            require_experiments(self._repo.git, [experiment])
        for problem in problems:
            logging.getLogger("gittrack").warning("gittrack: skipped %s", problem)
        return [Run.from_stored(stored) for stored in runs]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, in logged order."""
        return [point for segment in self.iter_metric_history(run_id, key) for point in segment]

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[list[Metric]]:
        """The points of one metric of a run a segment (4096 points) at a time: for histories too
        long to hold in memory, such as ``gittrack metrics --csv`` of millions of points."""
        ref = self._repo.runs.resolve(run_id)
        for segment in runfiles.iter_history(self._repo.git, ref.commit, key):
            yield [Metric(key, v, s, t) for s, t, v in segment]

    def get_metric_arrays(self, run_id: str, key: str) -> metricfile.Columns:
        """Every point of one metric as numpy arrays ``(step, timestamp, value)``, a named tuple:
        no Python object per point, so 100,000 points take milliseconds (charts, frames, stats)."""
        ref = self._repo.runs.resolve(run_id)
        return runfiles.read_history_columns(self._repo.git, ref.commit, key)

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

    def get_log(self, run_id: str, name: str) -> str | None:
        """Captured ``stdout``/``stderr`` of a ``gittrack run`` command, or None."""
        data = runfiles.read_log(self._repo.git, self._repo.runs.resolve(run_id).commit, name)
        return None if data is None else data.decode("utf-8", "replace")

    def get_requirements(self, run_id: str) -> str:
        """The run's installed packages, ``pip freeze`` form."""
        return runfiles.read_requirements(self._repo.git, self._repo.runs.resolve(run_id).commit)

    def delete_runs(self, run_ids: Iterable[str]) -> list[tuple[Run, str]]:
        """Delete runs (their refs move to ``refs/runs-deleted/``); returns each run and its new ref."""
        resolved = [self._repo.runs.get(spec) for spec in run_ids]
        return [(Run.from_stored(stored), self._repo.runs.delete(stored.ref)) for stored in resolved]

    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_runs` for one run."""
        return Run.from_stored(self._repo.runs.read(self._repo.runs.restore(run_id)))


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
