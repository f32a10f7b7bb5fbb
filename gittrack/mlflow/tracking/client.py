"""``MlflowClient`` on gittrack: runs, experiments, artifacts and the registry by id.

Every call goes through the public ``gittrack.Client`` (the one the fluent API shares, so a run
created here and resumed with ``start_run(run_id=...)`` has one writer).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gittrack.errors import NotFoundError, UsageError
from gittrack.mlflow import _convert, _locations, _logged, _registry, _removed, _state
from gittrack.mlflow._registry import register
from gittrack.mlflow.entities import Experiment, FileInfo, LoggedModel, Metric, Run, ViewType
from gittrack.mlflow.entities.model_registry import ModelVersion, RegisteredModel
from gittrack.mlflow.exceptions import FEATURE_DISABLED, MlflowException, translate
from gittrack.mlflow.store.entities.paged_list import PagedList

_SYSTEM_RUN_TAGS = ("mlflow.runName", "mlflow.parentRunId", "mlflow.user")


def gittrack_client(repo: str | None = None):
    """The ``gittrack.Client`` for ``repo`` (default: the selected tracking repository), shared
    with the fluent API."""
    from gittrack._fluent import shared_client

    return shared_client(repo if repo is not None else _state.repo())


def split_run_tags(tags: dict[str, Any] | None) -> tuple[dict[str, Any], str | None, str | None]:
    """MLflow's tags as (plain tags, run name from ``mlflow.runName``, parent from ``mlflow.parentRunId``)."""
    plain = dict(tags or {})
    name = plain.pop("mlflow.runName", None)
    parent = plain.pop("mlflow.parentRunId", None)
    plain.pop("mlflow.user", None)  # the run's user is recorded from git's identity
    return plain, name, parent


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(page_token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise MlflowException.invalid_parameter_value(f"invalid page token {page_token!r}") from None


class MlflowClient:
    """MLflow's client; ``tracking_uri``/``registry_uri``: a path inside a git repository selects it,
    any other URI warns once and the current repository is used."""

    @translate
    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._repo = _state.repo()
        if tracking_uri is not None:
            path = _state.local_path(str(tracking_uri))
            if path is None:
                _state.warn_once(str(tracking_uri))
            else:
                self._repo = _state.repo_root(path) or self._repo
        self._registry_repo = self._repo
        if registry_uri is not None:
            registry_path = _state.local_path(str(registry_uri))
            if registry_path is None:
                _state.warn_once(str(registry_uri))
            else:
                self._registry_repo = _state.repo_root(registry_path) or self._repo
        self._tracking_uri = tracking_uri

    @property
    def _client(self):
        return gittrack_client(self._repo)

    @property
    def _registry(self):
        return gittrack_client(self._registry_repo)

    @property
    def tracking_uri(self) -> str:
        """The repository's path."""
        return self._client.repo_path

    # -- runs --------------------------------------------------------------------------------
    @translate
    def get_run(self, run_id: str) -> Run:
        """A run by id (also a unique id prefix or name, as gittrack takes); deleted runs too, as in MLflow."""
        try:
            return _convert.to_mlflow_run(self._client.get_run(run_id), self._client.repo_path)
        except NotFoundError:
            quoted = str(run_id).replace("'", "''")
            found = self._client.search_runs(None, f"attributes.run_id = '{quoted}'", None, 1, "deleted", "list")
            if not found:
                raise
            return _convert.to_mlflow_run(found[0], self._client.repo_path)

    @translate
    def get_parent_run(self, run_id: str) -> Run | None:
        """The parent of a nested run, or None."""
        parent = self._client.get_run(run_id).info.parent_run_id
        return self.get_run(parent) if parent else None

    @translate
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Start a run (RUNNING) in an experiment; end it with ``set_terminated``."""
        plain, tag_name, parent = split_run_tags(tags)
        client = self._client
        experiment = _convert.experiment_name(experiment_id)
        check_active_experiment(client, experiment)
        run = client.create_run(experiment=experiment, run_name=run_name or tag_name, parent_run_id=parent)
        client.set_tags(run.info.run_id, {**source_tags(), **plain})
        client.flush(run.info.run_id)
        return self.get_run(run.info.run_id)

    @translate
    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run: FINISHED (default), FAILED or KILLED."""
        self._client.set_terminated(run_id, status or "FINISHED")

    @translate
    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Rename a run (a finished one too), or end a running one with ``status``."""
        if name is not None:
            self._client.rename_run(run_id, name)
        if status is not None and status != "RUNNING":
            self._client.set_terminated(run_id, status)

    @translate
    def delete_run(self, run_id: str) -> None:
        """Delete a run (restorable with ``restore_run``)."""
        self._client.delete_runs([run_id])

    @translate
    def restore_run(self, run_id: str) -> None:
        """Bring a deleted run back."""
        self._client.restore_run(run_id)

    @translate
    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Record a param; returns the value."""
        self._client.log_param(run_id, key, value)
        return value

    @translate
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        """Record a metric point (``step`` defaults to 0, as in MLflow); ``model_id`` must name a model
        (a logged model's metrics are its run's)."""
        check_metric_links(self._client, model_id, dataset_name or dataset_digest)
        self._client.log_metric(run_id, key, value, step if step is not None else 0, timestamp)

    @translate
    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        """Set a tag; ``mlflow.runName`` renames the run."""
        set_run_tags(self._client, run_id, {key: value})

    @translate
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag."""
        self._client.delete_tag(run_id, key)

    @translate
    def log_batch(
        self,
        run_id: str,
        metrics: list | tuple = (),
        params: list | tuple = (),
        tags: list | tuple = (),
        synchronous: bool | None = None,
    ) -> None:
        """Record ``Metric``, ``Param`` and ``RunTag`` objects in one call."""
        client = self._client
        for param in params:
            client.log_param(run_id, param.key, param.value)
        for metric in metrics:
            client.log_metric(run_id, metric.key, metric.value, metric.step or 0, metric.timestamp)
        if tags:
            set_run_tags(client, run_id, {t.key: t.value for t in tags})

    @translate
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, in logged order."""
        return [Metric(m.key, m.value, m.timestamp, m.step) for m in self._client.get_metric_history(run_id, key)]

    @translate
    def search_runs(
        self,
        experiment_ids: Any,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs of experiments matching a filter: a list of ``Run`` with ``.token`` for the next page."""
        start = _offset(page_token)
        runs = self._client.search_runs(
            _convert.experiment_names(experiment_ids),
            filter_string or "",
            order_by,
            start + max_results + 1,
            ViewType.to_gittrack(run_view_type),
            "list",
        )
        page = [_convert.to_mlflow_run(r, self._client.repo_path) for r in runs[start : start + max_results]]
        return PagedList(page, _token(start + max_results) if len(runs) > start + max_results else None)

    # -- artifacts ---------------------------------------------------------------------------
    @translate
    def log_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Store a file or folder (a path or ``file:`` URI) as an artifact (content in DVC)."""
        self._client.log_artifact(run_id, _state.local_path(local_path) or local_path, artifact_path)

    @translate
    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Store a folder's content as artifacts."""
        self._client.log_artifacts(run_id, _state.local_path(local_dir) or local_dir, artifact_path)

    @translate
    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Store ``text`` as the artifact file ``artifact_file``."""
        with_file(self, run_id, artifact_file, lambda p: Path(p).write_text(text, encoding="utf-8"))

    @translate
    def log_dict(self, run_id: str, dictionary: dict, artifact_file: str) -> None:
        """Store a dict as JSON (or YAML for ``.yaml``/``.yml`` files)."""
        write_dict(self, run_id, dictionary, artifact_file)

    @translate
    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The artifacts directly under ``path`` (default: the top level)."""
        return list_artifacts(self._client, run_id, path)

    @translate
    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Write an artifact (a folder prefix: everything under it) to ``dst_path``; returns the local path."""
        return download(self._client, run_id, path, dst_path)

    # -- removed in MLflow 2.0, still in course material ----------------------------------------
    @translate
    def list_experiments(
        self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        """MLflow 1's name of ``search_experiments`` (removed in MLflow 2.0)."""
        _removed.warn("MlflowClient.list_experiments", "MlflowClient.search_experiments")
        return self.search_experiments(view_type, max_results, None, None, page_token)

    @translate
    def list_registered_models(self, max_results: int = 100, page_token: str | None = None) -> PagedList:
        """MLflow 1's name of ``search_registered_models`` (removed in MLflow 2.0)."""
        _removed.warn("MlflowClient.list_registered_models", "MlflowClient.search_registered_models")
        return self.search_registered_models(None, max_results, None, page_token)

    @translate
    def list_run_infos(
        self,
        experiment_id: str,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """MLflow 1's listing of runs' ``RunInfo`` (removed in MLflow 2.0): ``search_runs``' infos."""
        _removed.warn("MlflowClient.list_run_infos", "MlflowClient.search_runs (each run's .info)")
        runs = self.search_runs([experiment_id], "", run_view_type, max_results, order_by, page_token)
        return PagedList([r.info for r in runs], runs.token)

    # -- logged models (MLflow 3) ---------------------------------------------------------------
    @translate
    def get_logged_model(self, model_id: str) -> LoggedModel:
        """A model a run logged, by its id (``ModelInfo.model_id``)."""
        run, entry = _logged.find(self._client, model_id)
        return _logged.to_logged_model(self._client, run, entry)

    @translate
    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """The models runs of these experiments logged, filtered on ``name``, ``model_type``,
        ``source_run_id``, ``status``, ``params.<key>``, ``tags.<key>`` and ``metrics.<key>``, newest
        first unless ``order_by`` (``[{"field_name": ..., "ascending": ...}]``) says otherwise."""
        if datasets:
            raise MlflowException.invalid_parameter_value(
                "search_logged_models(datasets=...) is not supported: a logged model's metrics are its run's"
            )
        found = logged_models(self._client, _convert.experiment_names(experiment_ids), filter_string, order_by)
        start = _offset(page_token)
        end = len(found) if max_results is None else start + max_results
        return PagedList(found[start:end], _token(end) if end < len(found) else None)

    @translate
    def create_dataset(
        self, name: str, experiment_id: str | list[str] | None = None, tags: dict[str, Any] | None = None
    ) -> None:
        """Refused, as MLflow's own file store refuses it: evaluation datasets are MLflow's GenAI API."""
        raise MlflowException(
            f"create_dataset({name!r}) is not supported: evaluation datasets are MLflow's GenAI API, which gittrack "
            "does not provide (MLflow offers them on SQL stores only); record the data a run used with "
            "mlflow.log_input",
            error_code=FEATURE_DISABLED,
        )

    # -- experiments ---------------------------------------------------------------------------
    @translate
    def create_experiment(self, name: str, artifact_location: str | None = None, tags: dict | None = None) -> str:
        """Create an experiment; returns its id (its name)."""
        tags = dict(tags or {})
        description = tags.pop("mlflow.note.content", None)
        return self._client.create_experiment(name, tags, description).experiment_id

    @translate
    def get_experiment(self, experiment_id: str) -> Experiment:
        """An experiment by id; the default one (``"0"``) exists even before its first run, as in MLflow."""
        name = _convert.experiment_name(experiment_id)
        try:
            return _convert.to_mlflow_experiment(self._client.get_experiment(name))
        except NotFoundError:
            if name != _convert.DEFAULT_EXPERIMENT:
                raise
            return Experiment(experiment_id=name, name=name, artifact_location=f"runs:/{name}")

    @translate
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """An experiment by name (MLflow's ``Default`` names gittrack's ``default``, there before its
        first run), or None."""
        target = _convert.DEFAULT_EXPERIMENT if name == "Default" else name
        try:
            return _convert.to_mlflow_experiment(self._client.get_experiment(target))
        except NotFoundError:
            return self.get_experiment(_convert.DEFAULT_ID) if target == _convert.DEFAULT_EXPERIMENT else None

    @translate
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Experiments, filtered on ``name`` and ``tags.<key>`` (=, !=, LIKE, ILIKE; AND)."""
        view = ViewType.to_gittrack(view_type)
        found = [_convert.to_mlflow_experiment(e) for e in self._client.list_experiments(view)]
        if view != "deleted" and not any(e.name == _convert.DEFAULT_EXPERIMENT for e in found):
            found.append(self.get_experiment(_convert.DEFAULT_ID))  # as in MLflow, it is there before its first run
        found = [
            e for e in found if matches(filter_string, {"name": e.name, **{f"tags.{k}": v for k, v in e.tags.items()}})
        ]
        found = order_experiments(found, order_by)
        start = _offset(page_token)
        end = len(found) if max_results is None else start + max_results
        return PagedList(found[start:end], _token(end) if end < len(found) else None)

    @translate
    def delete_experiment(self, experiment_id: str) -> None:
        """Delete an experiment and its runs (restorable)."""
        self._client.delete_experiment(_convert.experiment_name(experiment_id))

    @translate
    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment and its runs."""
        self._client.restore_experiment(_convert.experiment_name(experiment_id))

    @translate
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Refused: an experiment's name is its id and is in every run's ref."""
        raise MlflowException.invalid_parameter_value(
            "gittrack cannot rename an experiment: its name is its id and is part of every run's ref; create a new one"
        )

    @translate
    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set an experiment tag (``mlflow.note.content`` is its description)."""
        set_experiment_tags(self._client, _convert.experiment_name(experiment_id), {key: value})

    @translate
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove an experiment tag."""
        set_experiment_tags(self._client, _convert.experiment_name(experiment_id), {key: None})

    # -- registry ------------------------------------------------------------------------------
    @translate
    def create_registered_model(
        self, name: str, tags: dict | None = None, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        """Record a model before its first version (description and tags are kept in git)."""
        refuse_deployment_job("create_registered_model", deployment_job_id)
        self._registry.create_registered_model(name, tags, description)
        return _registry.registered_model(self._registry, name)

    @translate
    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its latest version per stage, tags and aliases."""
        return _registry.registered_model(self._registry, name)

    @translate
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Registered models, filtered on ``name`` and ``tags.<key>``."""
        client = self._registry
        models = [_registry.registered_model(client, n) for n in _registry.model_names(client)]
        models = [
            m for m in models if matches(filter_string, {"name": m.name, **{f"tags.{k}": v for k, v in m.tags.items()}})
        ]
        if order_by and any("DESC" in o.upper() for o in order_by):
            models.reverse()
        start = _offset(page_token)
        end = start + max_results
        return PagedList(models[start:end], _token(end) if end < len(models) else None)

    @translate
    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        """Set a registered model's description."""
        refuse_deployment_job("update_registered_model", deployment_job_id)
        self._registry.update_model_metadata(name, description=description)
        return _registry.registered_model(self._registry, name)

    @translate
    def rename_registered_model(self, name: str, new_name: str) -> None:
        """Refused: GTO tags carry the model's name and never change."""
        raise MlflowException.invalid_parameter_value(
            f"gittrack cannot rename model {name!r}: its versions are git tags named after it, which never change"
        )

    @translate
    def delete_registered_model(self, name: str) -> None:
        """Deprecate the whole model (GTO's deprecation: the history stays)."""
        self._registry.deprecate_model(name)

    @translate
    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a registered model's tag."""
        self._registry.update_model_metadata(name, tags={key: value})

    @translate
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a registered model's tag."""
        self._registry.update_model_metadata(name, tags={key: None})

    @translate
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` (a runs:/ or models:/ URI or artifact location; or a path inside
        ``run_id``'s artifacts), or the logged model ``model_id``, as a new version, at once (there is
        nothing to await)."""
        if run_link is not None:
            raise MlflowException.invalid_parameter_value(
                "create_model_version(run_link=...) is not supported: a version's run is the one its tag names"
            )
        if model_id is not None:
            uri = f"models:/{model_id}"
        elif str(source).startswith(("runs:/", "models:/")) or _locations.parse(str(source)) is not None:
            uri = str(source)
        else:
            uri = f"runs:/{run_id}/{str(source).rstrip('/').rsplit('/', 1)[-1]}"
        return register(self._registry, uri, name, tags, description)

    @translate
    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        """A version by MLflow number."""
        return _registry.get_version(self._registry, name, version)

    @translate
    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage asked for (default: each stage, None included)."""
        found = {}
        for mv in _registry.versions(self._registry, name):
            found[mv.current_stage.lower()] = mv
        if not stages:
            return list(found.values())
        return [found[s.lower()] for s in stages if s.lower() in found]

    @translate
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Versions filtered on ``name``, ``run_id``, ``version_number``, ``source_path`` and ``tags.<key>``."""
        client = self._registry
        found = []
        for name in _registry.model_names(client):
            for mv in _registry.versions(client, name):
                fields = {
                    "name": mv.name,
                    "run_id": mv.run_id,
                    "version_number": mv.version,
                    "source_path": mv.source,
                    **{f"tags.{k}": v for k, v in mv.tags.items()},
                }
                if matches(filter_string, fields):
                    found.append(mv)
        found.sort(key=lambda mv: (mv.name, -int(mv.version)))
        start = _offset(page_token)
        end = start + max_results
        return PagedList(found[start:end], _token(end) if end < len(found) else None)

    @translate
    def transition_model_version_stage(
        self, name: str, version: Any, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to Staging, Production (GTO assign), Archived or None (GTO unassign)."""
        transition(self._registry, name, version, stage, archive_existing_versions)
        return _registry.get_version(self._registry, name, version)

    @translate
    def update_model_version(self, name: str, version: Any, description: str | None = None) -> ModelVersion:
        """Set a version's description (a git note on its tag)."""
        client = self._registry
        client.update_model_metadata(name, _registry.semver_of(client, name, version), description=description)
        return _registry.get_version(client, name, version)

    @translate
    def delete_model_version(self, name: str, version: Any) -> None:
        """Deprecate a version (GTO's deregistration); its number is never reused."""
        client = self._registry
        client.deprecate_model(name, _registry.semver_of(client, name, version))

    @translate
    def set_model_version_tag(
        self, name: str, version: Any = None, key: str | None = None, value: Any = None, stage: str | None = None
    ) -> None:
        """Set a version's tag (a git note on its tag); the version by number or by ``stage``."""
        client = self._registry
        semver = _version_or_stage(client, name, version, stage)
        client.update_model_metadata(name, semver, tags={key: value})

    @translate
    def delete_model_version_tag(
        self, name: str, version: Any = None, key: str | None = None, stage: str | None = None
    ) -> None:
        """Remove a version's tag; the version by number or by ``stage``."""
        client = self._registry
        semver = _version_or_stage(client, name, version, stage)
        client.update_model_metadata(name, semver, tags={key: None})

    @translate
    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        """Point an alias (a GTO stage) at a version; the stage must be allowed here."""
        client = self._registry
        client.promote_model(name, _registry.semver_of(client, name, version), _registry.gto_stage(alias), True)

    @translate
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (GTO unassign of the stage's holders)."""
        client = self._registry
        stage = _registry.gto_stage(alias)
        holder = client.get_model_version(name, stage)
        client.demote_model(name, holder["version"], stage)

    @translate
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias names."""
        return _registry.by_stage_or_alias(self._registry, name, alias)

    @translate
    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        """Where the version's files are: its model's artifact location (``get_artifact_uri``'s kind)."""
        from gittrack.mlflow._locations import artifact_uri

        found = _registry.get_version(self._registry, name, version)
        return artifact_uri(self._registry.repo_path, str(found.run_id), str(found.gto_artifact))


def _fields(name: str, tags: dict[str, str]) -> dict[str, str]:
    return {"name": name, **{f"tags.{k}": v for k, v in tags.items()}}


def _version_or_stage(client, name: str, version: Any, stage: str | None) -> str:
    if version is not None:
        return _registry.semver_of(client, name, version)
    if stage is not None:
        return client.get_model_version(name, _registry.gto_stage(stage))["version"]
    raise MlflowException.invalid_parameter_value("give version= (or stage=)")


def check_metric_links(client, model_id: str | None, dataset: Any) -> None:
    """Refuse a metric's dataset link (not kept) and a ``model_id`` that names no logged model."""
    if dataset is not None:
        raise MlflowException.invalid_parameter_value(
            "a metric's dataset (dataset=, dataset_name=, dataset_digest=) is not kept: record the dataset with "
            "log_input and log the metric without it"
        )
    if model_id is not None:
        _logged.find(client, model_id)


def refuse_deployment_job(call: str, deployment_job_id: str | None) -> None:
    """Databricks deployment jobs are not part of gittrack."""
    if deployment_job_id is not None:
        raise MlflowException.invalid_parameter_value(
            f"{call}(deployment_job_id=...) is not supported: Databricks deployment jobs are not part of gittrack"
        )


def check_active_experiment(client, name: str) -> None:
    from gittrack._experiments import DELETED

    try:
        experiment = client.get_experiment(name)
    except NotFoundError:
        return
    if experiment.lifecycle_stage == DELETED:
        raise UsageError(f"experiment {name!r} is deleted; restore it first or use another experiment")


def source_tags() -> dict[str, str]:
    """``mlflow.source.name`` and ``mlflow.source.type`` of this process, as MLflow records them."""
    import sys

    entry = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else "<console>"
    return {"mlflow.source.name": entry, "mlflow.source.type": "LOCAL"}


def set_run_tags(client, run_id: str, tags: dict[str, Any]) -> None:
    """Set run tags; ``mlflow.runName`` renames the run, ``mlflow.user``/``mlflow.parentRunId`` are
    gittrack's own fields and cannot be set."""
    plain = dict(tags)
    name = plain.pop("mlflow.runName", None)
    for key in ("mlflow.user", "mlflow.parentRunId"):
        if key in plain:
            raise MlflowException.invalid_parameter_value(
                f"tag {key} is recorded by gittrack (git's identity, the nesting of runs) and cannot be set"
            )
    if name is not None:
        client.rename_run(run_id, str(name))
    if plain:
        client.set_tags(run_id, plain)


def set_experiment_tags(client, name: str, tags: dict[str, Any]) -> None:
    """Experiment tags; ``mlflow.note.content`` is the description."""
    plain = dict(tags)
    if "mlflow.note.content" in plain:
        client.set_experiment_description(name, plain.pop("mlflow.note.content"))
    if plain:
        client.set_experiment_tags(name, plain)


def transition(client, name: str, version: Any, stage: str, archive_existing: bool = False) -> None:
    """MLflow's stage transition as GTO events (see ``gittrack.mlflow._registry``). As in MLflow a
    version is in one stage at a time: moving it to Staging or Production takes it out of the
    other, Archived and None out of both; its aliases (other GTO stages) stay."""
    semver = _registry.semver_of(client, name, version)
    target = _registry.gto_stage(stage)
    held = [s for s in client.get_model_version(name, semver)["stages"] if s in _registry.MLFLOW_STAGES]
    if target in ("none", "archived"):
        for held_stage in held:
            client.demote_model(name, semver, held_stage)
        client.update_model_metadata(
            name, semver, tags={_registry.ARCHIVED_TAG: "true" if target == "archived" else None}
        )
        return
    others = []
    if archive_existing:
        others = [
            mv
            for mv in _registry.versions(client, name)
            if mv.gto_version != semver and target in _held(client, name, mv)
        ]
    client.promote_model(name, semver, target, archive_existing)
    for held_stage in held:
        if held_stage != target:
            client.demote_model(name, semver, held_stage)
    client.update_model_metadata(name, semver, tags={_registry.ARCHIVED_TAG: None})
    for mv in others:
        client.update_model_metadata(name, mv.gto_version, tags={_registry.ARCHIVED_TAG: "true"})


def _held(client, name: str, mv: ModelVersion) -> list[str]:
    return list(client.get_model_version(name, mv.gto_version)["stages"])


# -- artifacts ---------------------------------------------------------------------------------
def with_file(mlflow_client: MlflowClient, run_id: str, artifact_file: str, write) -> None:
    """Write ``artifact_file``'s content with ``write(path)`` into a temporary folder and log it there."""
    import tempfile

    folder, _, filename = artifact_file.replace("\\", "/").rpartition("/")
    with tempfile.TemporaryDirectory(prefix="gittrack-mlflow-") as tmp:
        local = os.path.join(tmp, filename)
        write(local)
        mlflow_client.log_artifact(run_id, local, folder or None)


def write_dict(mlflow_client: MlflowClient, run_id: str, dictionary: dict, artifact_file: str) -> None:
    """``log_dict``: JSON, or YAML for ``.yaml``/``.yml``."""

    def write(path: str) -> None:
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            Path(path).write_text(yaml.safe_dump(dictionary, sort_keys=False), encoding="utf-8")
        else:
            Path(path).write_text(json.dumps(dictionary, indent=2), encoding="utf-8")

    with_file(mlflow_client, run_id, artifact_file, write)


def list_artifacts(client, run_id: str, path: str | None = None) -> list[FileInfo]:
    """MLflow's listing: the entries directly under ``path``; inside a folder artifact, its files."""
    prefix = (path or "").strip("/")
    try:
        found = client.list_artifacts(run_id, prefix or None)
    except NotFoundError:
        if not prefix:
            raise
        return []  # as MLflow: nothing under a path that is not there
    entries: dict[str, FileInfo] = {}
    for artifact in found:
        rel = artifact["path"]
        if prefix:
            if not rel.startswith(prefix + "/"):
                continue
            rest = rel[len(prefix) + 1 :]
        else:
            rest = rel
        head, sep, _ = rest.partition("/")
        shown = f"{prefix}/{head}" if prefix else head
        is_dir = bool(sep) or (artifact.get("nfiles") or 0) > 0 or artifact.get("kind") == "model"
        entries[shown] = FileInfo(shown, is_dir, None if is_dir else artifact.get("size"))
    return [entries[k] for k in sorted(entries)]


def download(client, run_id: str, path: str = "", dst_path: str | None = None) -> str:
    """Download an artifact (or a file inside a folder artifact, or everything under a folder
    prefix); returns its absolute local path, as MLflow does."""
    return os.path.abspath(client.download_artifacts(run_id, (path or "").strip("/") or None, dst_path))


def logged_models(client, experiments: list[str] | None, filter_string: str | None, order_by: Any) -> list:
    """The ``LoggedModel`` of every model the runs of ``experiments`` (all: None) logged, filtered and ordered."""
    found = []
    for run in client.search_runs(experiments, "", None, None, "active", "list"):
        for entry in _logged.models_of(run):
            model = _logged.to_logged_model(client, run, entry)
            fields = {
                "name": model.name, "model_id": model.model_id, "model_type": model.model_type,
                "source_run_id": model.source_run_id, "status": model.status,
                "creation_timestamp": model.creation_timestamp, "creation_time": model.creation_timestamp,
                "last_updated_timestamp": model.last_updated_timestamp,
                **{f"params.{k}": v for k, v in model.params.items()},
                **{f"tags.{k}": v for k, v in model.tags.items()},
                **{f"metrics.{m.key}": m.value for m in model.metrics},
            }  # fmt: skip
            if matches(filter_string, fields):
                found.append(model)
    found.sort(key=lambda m: m.creation_timestamp or 0, reverse=True)
    for clause in reversed(order_by or []):  # MLflow's [{"field_name": ..., "ascending": ...}], or "name DESC"
        if isinstance(clause, dict):
            field_name, ascending = str(clause.get("field_name")), bool(clause.get("ascending", True))
        else:
            field_name, _, direction = str(clause).strip().partition(" ")
            ascending = direction.strip().upper() != "DESC"
        name = field_name.removeprefix("attributes.")
        found.sort(key=functools.partial(_sort_key, name=name), reverse=not ascending)
    return found


def _attribute_key(column: str) -> Callable[[Any], tuple[bool, Any]]:
    """An order_by key on an attribute: missing values last."""
    return lambda e: (getattr(e, column, None) is None, getattr(e, column, None) or 0)


def _sort_key(model: LoggedModel, name: str) -> tuple:
    """A logged model's value of an order_by field (missing values last)."""
    if name.startswith("metrics."):
        value = next((m.value for m in model.metrics if m.key == name[len("metrics.") :]), None)
    elif name.startswith(("params.", "tags.")):
        kind, _, inner = name.partition(".")
        value = getattr(model, kind).get(inner)
    else:
        value = getattr(model, name, None)
    return (value is None, value if value is not None else 0)


# -- tiny filters for experiments, registry and logged-model searches ------------------------------
_CLAUSE = re.compile(
    r"""\s*(?P<key>(?:tags?\.|params?\.|metrics?\.|attributes\.)?(?:`[^`]+`|"[^"]+"|[\w.]+))\s*"""
    r"""(?P<op>!=|<=|>=|=|<|>|LIKE|ILIKE|IN)\s*"""
    r"""(?P<value>'(?:[^']|'')*'|"(?:[^"]|"")*"|\([^)]*\)|[-\w.]+)\s*""",
    re.IGNORECASE,
)
_ORDERED = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(filter_string: str | None, fields: dict[str, Any]) -> bool:
    """Whether ``fields`` satisfy an AND of ``key op value`` clauses (=, !=, LIKE, ILIKE, IN, and
    <, <=, >, >= on numbers); numeric fields compare as numbers."""
    if not filter_string or not filter_string.strip():
        return True
    from gittrack._search.rows import like_pattern

    for clause in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise MlflowException.invalid_parameter_value(f"cannot parse filter clause {clause!r}")
        key = match["key"].replace("`", "").replace('"', "").removeprefix("attributes.")
        for short, full in (("tag.", "tags."), ("param.", "params."), ("metric.", "metrics.")):
            key = full + key[len(short) :] if key.lower().startswith(short) else key
        op, raw = match["op"].upper(), match["value"]
        actual = fields.get(key)
        if op == "IN":
            values = [v.strip().strip("'\"") for v in raw.strip("()").split(",")]
            ok = actual is not None and str(actual) in values
        else:
            value = raw[1:-1] if raw[:1] in "'\"" else raw
            numeric = isinstance(actual, int | float) and not isinstance(actual, bool) and _number(value) is not None
            if actual is None:
                ok = False
            elif op in _ORDERED:
                ok = _number(actual) is not None and _number(value) is not None and _ORDERED[op](
                    _number(actual), _number(value))  # fmt: skip
            elif numeric and op in ("=", "!="):
                ok = (float(actual) == _number(value)) == (op == "=")
            elif op == "=":
                ok = str(actual) == value
            elif op == "!=":
                ok = str(actual) != value
            else:
                ok = like_pattern(value, op == "ILIKE").matches(str(actual))
        if not ok:
            return False
    return True


def order_experiments(found: list[Experiment], order_by: list[str] | None) -> list[Experiment]:
    """Experiments ordered by ``name``, ``creation_time``, ``last_update_time`` or ``experiment_id``."""
    if not order_by:
        return sorted(found, key=lambda e: -(e.creation_time or 0))  # MLflow: newest first
    for clause in reversed(order_by):
        column, _, direction = clause.strip().partition(" ")
        column = column.removeprefix("attributes.")
        found = sorted(
            found,
            key=_attribute_key(column),
            reverse=direction.strip().upper() == "DESC",
        )
    return found
