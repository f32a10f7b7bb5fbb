"""MLflow's fluent API (``mlflow.start_run``, ``mlflow.log_metric``...) on gittrack's.

Runs go through ``gittrack.start_run`` and the ``gittrack.Client`` it shares, so they are
gittrack runs in every way; what comes back is shaped as MLflow's entities.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gittrack._state import STATE
from gittrack.mlflow import _convert, _state
from gittrack.mlflow.entities import Experiment, Run, ViewType
from gittrack.mlflow.exceptions import MlflowException, translate
from gittrack.mlflow.tracking.client import (
    MlflowClient,
    gittrack_client,
    set_run_tags,
    source_tags,
    split_run_tags,
    with_file,
    write_dict,
)
from gittrack.mlflow.tracking.client import set_experiment_tags as _set_experiment_tags


class ActiveRun(Run):
    """The run ``start_run`` returned: a context manager, and a ``Run`` whose ``info``/``data`` read
    the run as of its last checkpoint, and as stored once it has ended (after its ``with`` block)."""

    def __init__(self, active: Any) -> None:
        self._active = active

    @property
    def _run(self) -> Run:
        return _convert.to_mlflow_run(self._active.to_run(), self._active.client.repo_path)

    @property
    def info(self):
        """``RunInfo``: ``run_id``, ``status``, ``start_time``..."""
        return self._run.info

    @property
    def data(self):
        """``RunData``: ``metrics``, ``params``, ``tags``."""
        return self._run.data

    @property
    def inputs(self):
        """The run's datasets."""
        return self._run.inputs

    @property
    def outputs(self):
        """The run's logged models."""
        return self._run.outputs

    # MLflow's Run keeps these as attributes, and code reads them (``run._info.run_id``)
    _info = info
    _data = data
    _inputs = inputs
    _outputs = outputs

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        STATE.mlflow.last_run_id = self._active.run_id
        return translate(self._active.__exit__)(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self._active.run_id}>"


def _mlflow_client() -> MlflowClient:
    return MlflowClient()


# -- URIs --------------------------------------------------------------------------------------
@translate
def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """A path or ``file:`` URI selects the git repository containing it; other URIs warn once."""
    _state.select(None if uri is None else os.fspath(uri))


def get_tracking_uri() -> str:
    """The path of the repository runs are recorded in."""
    return _state.tracking_uri()


def is_tracking_uri_set() -> bool:
    """Whether ``set_tracking_uri`` (or ``MLFLOW_TRACKING_URI``) chose one."""
    return _state.tracking_uri_set()


@translate
def set_registry_uri(uri: str | None) -> None:
    """As ``set_tracking_uri``, for the registry calls."""
    _state.select(uri, registry=True)


def get_registry_uri() -> str:
    """The path of the repository whose registry the calls use."""
    return _state.registry_uri()


# -- experiments -----------------------------------------------------------------------------------
@translate
def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment the active one (created when missing, as MLflow does); returns it."""
    import gittrack
    from gittrack._experiments import DELETED

    if (experiment_name is None) == (experiment_id is None):
        raise MlflowException.invalid_parameter_value("give exactly one of experiment_name and experiment_id")
    name = experiment_name if experiment_name is not None else _convert.experiment_name(experiment_id)
    client = gittrack_client()
    try:
        experiment = client.get_experiment(name)
    except gittrack.NotFoundError:
        if experiment_id is not None and name != _convert.DEFAULT_EXPERIMENT:
            raise
        experiment = client.create_experiment(name)
    if experiment.lifecycle_stage == DELETED:
        raise MlflowException(
            f"experiment {name!r} is deleted; restore it (MlflowClient().restore_experiment) or use another name",
            error_code="INVALID_PARAMETER_VALUE",
        )
    STATE.mlflow.experiment_set = True
    gittrack.set_experiment(name)
    return _convert.to_mlflow_experiment(experiment)


def _active_experiment() -> str:
    """The experiment of runs started without one: set_experiment's, else MLflow's environment
    variables, else gittrack's (``$GITTRACK_EXPERIMENT``, ``default``)."""
    import gittrack._fluent

    chosen = gittrack._fluent.experiment_name()
    if STATE.mlflow.experiment_set and chosen:
        return chosen
    if os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return os.environ["MLFLOW_EXPERIMENT_NAME"]
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return _convert.experiment_name(os.environ["MLFLOW_EXPERIMENT_ID"])
    return chosen or os.environ.get("GITTRACK_EXPERIMENT") or _convert.DEFAULT_EXPERIMENT


@translate
def create_experiment(name: str, artifact_location: str | None = None, tags: dict | None = None) -> str:
    """Create an experiment; returns its id (its name)."""
    return _mlflow_client().create_experiment(name, artifact_location, tags)


@translate
def get_experiment(experiment_id: str) -> Experiment:
    """An experiment by id."""
    return _mlflow_client().get_experiment(experiment_id)


@translate
def get_experiment_by_name(name: str) -> Experiment | None:
    """An experiment by name, or None when there is none."""
    return _mlflow_client().get_experiment_by_name(name)


@translate
def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """Experiments filtered on ``name`` and ``tags.<key>``."""
    return list(_mlflow_client().search_experiments(view_type, max_results, filter_string, order_by))


@translate
def list_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None) -> list[Experiment]:
    """MLflow 1's name of ``search_experiments`` (removed in MLflow 2.0)."""
    from gittrack.mlflow import _removed

    _removed.warn("mlflow.list_experiments", "mlflow.search_experiments")
    return list(_mlflow_client().search_experiments(view_type, max_results))


@translate
def list_run_infos(
    experiment_id: str,
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: list[str] | None = None,
) -> list:
    """MLflow 1's listing of runs' ``RunInfo`` (removed in MLflow 2.0): ``search_runs``' infos."""
    from gittrack.mlflow import _removed

    _removed.warn("mlflow.list_run_infos", "mlflow.search_runs(output_format='list') (each run's .info)")
    runs = _mlflow_client().search_runs([experiment_id], "", run_view_type, max_results, order_by)
    return [r.info for r in runs]


@translate
def delete_experiment(experiment_id: str) -> None:
    """Delete an experiment and its runs (restorable)."""
    _mlflow_client().delete_experiment(experiment_id)


@translate
def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the active experiment."""
    _set_experiment_tags(gittrack_client(), _ensure_experiment(), {key: value})


@translate
def set_experiment_tags(tags: dict[str, Any]) -> None:
    """Tag the active experiment."""
    _set_experiment_tags(gittrack_client(), _ensure_experiment(), dict(tags))


def _ensure_experiment() -> str:
    from gittrack._experiments import ensure_experiment  # noqa: F401 - the Client creates through it

    name = _active_experiment()
    client = gittrack_client()
    import gittrack

    try:
        client.get_experiment(name)
    except gittrack.NotFoundError:
        client.create_experiment(name)
    return name


# -- runs ------------------------------------------------------------------------------------------
@translate
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume a RUNNING one with ``run_id``, or ``$MLFLOW_RUN_ID``); a context manager."""
    import gittrack

    plain, tag_name, tag_parent = split_run_tags(tags)
    if description is not None:
        plain["mlflow.note.content"] = description
    repo = _state.repo()
    if run_id is None and os.environ.get("MLFLOW_RUN_ID") and gittrack.active_run() is None:
        run_id = os.environ["MLFLOW_RUN_ID"]  # as MLflow: resume the run the environment names
    if run_id is not None:
        active = gittrack.start_run(nested=nested, repo=repo, run_id=run_id, log_system_metrics=log_system_metrics)
        if plain:
            set_run_tags(gittrack_client(), active.run_id, plain)
    else:
        stack_parent = gittrack.active_run()
        experiment = None
        if experiment_id is not None:
            experiment = _convert.experiment_name(experiment_id)
        elif not (nested and stack_parent is not None):
            experiment = _active_experiment()
        if experiment is not None:
            from gittrack.mlflow.tracking.client import check_active_experiment

            check_active_experiment(gittrack_client(), experiment)
        active = gittrack.start_run(
            experiment=experiment,
            run_name=run_name or tag_name,
            tags={**source_tags(), **plain},
            nested=nested,
            repo=repo,
            parent_run_id=parent_run_id or tag_parent,
            log_system_metrics=log_system_metrics,
        )
    STATE.mlflow.last_run_id = active.run_id
    return ActiveRun(active)


def active_run() -> ActiveRun | None:
    """The run calls go to, or None."""
    import gittrack

    active = gittrack.active_run()
    return None if active is None else ActiveRun(active)


@translate
def last_active_run() -> Run | None:
    """The active run, else the run most recently started in this process (as it ended), else None;
    a run autologging started counts, as in MLflow (``mlflow.sklearn.autolog(); model.fit(X, y)``)."""
    active = active_run()
    if active is not None:
        return active._run
    autologging = sys.modules.get("gittrack.integrations")
    last = [STATE.mlflow.last_run_id, autologging.autolog.last_run_id() if autologging is not None else None]
    runs = [run for run in map(_run_or_none, sorted({r for r in last if r is not None})) if run is not None]
    return max(runs, key=lambda run: run.info.start_time or 0, default=None)


def _run_or_none(run_id: str) -> Run | None:
    """The run, or None when the current repository does not have it (it was logged in another one)."""
    from gittrack.errors import NotFoundError

    try:
        return _mlflow_client().get_run(run_id)
    except NotFoundError:
        return None


@translate
def end_run(status: str = "FINISHED") -> None:
    """End the active run (and runs nested in it)."""
    import gittrack

    active = gittrack.active_run()
    if active is not None:
        STATE.mlflow.last_run_id = active.run_id
    gittrack.end_run(status)


def active_run_target(run_id: str | None = None) -> tuple[Any, str]:
    """The gittrack client and run to write to: ``run_id``, else the active run (started if none)."""
    import gittrack._fluent

    if run_id is not None:
        return gittrack_client(), run_id
    active = gittrack._fluent.active_run()
    if active is None:
        start_run()
        active = gittrack._fluent.active_run()
        assert active is not None  # start_run made one
    return gittrack._fluent.shared_client(), active.run_id


@translate
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Record a param of the active run; returns the value."""
    client, run_id = active_run_target()
    client.log_param(run_id, key, value)
    return value


@translate
def log_params(params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    """Record params."""
    client, run_id = active_run_target(run_id)
    client.log_params(run_id, params)


@translate
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Record a metric point (``step`` defaults to 0, as in MLflow). With ``model_id`` (a logged
    model's metrics are its run's) and no run, the model's run gets it."""
    client, run_id = _metric_target(run_id, model_id, dataset)
    client.log_metric(run_id, key, value, 0 if step is None else step, timestamp)


@translate
def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Record several metrics at one step and time (``model_id``, ``dataset``: as ``log_metric``)."""
    from gittrack._store.timefmt import now_ms

    client, run_id = _metric_target(run_id, model_id, dataset)
    when = now_ms() if timestamp is None else timestamp
    for key, value in metrics.items():
        client.log_metric(run_id, key, value, 0 if step is None else step, when)


def _metric_target(run_id: str | None, model_id: str | None, dataset: Any) -> tuple[Any, str]:
    """Where metrics go: ``run_id``, else the active run, else ``model_id``'s run, else a new run."""
    import gittrack._fluent
    from gittrack.mlflow import _logged
    from gittrack.mlflow.tracking.client import check_metric_links

    check_metric_links(gittrack_client(), model_id, dataset)
    if run_id is None and model_id is not None and gittrack._fluent.active_run() is None:
        run, _ = _logged.find(gittrack_client(), model_id)
        return gittrack_client(), run.info.run_id
    return active_run_target(run_id)


@translate
def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag of the active run (``mlflow.runName`` renames it, ``mlflow.note.content`` is its description)."""
    client, run_id = active_run_target()
    set_run_tags(client, run_id, {key: value})


@translate
def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> None:
    """Set tags of the active run."""
    client, run_id = active_run_target()
    set_run_tags(client, run_id, dict(tags))


@translate
def delete_tag(key: str) -> None:
    """Remove a tag of the active run."""
    client, run_id = active_run_target()
    client.delete_tag(run_id, key)


@translate
def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Store a file or folder as an artifact (content in DVC; DVC is set up on first use)."""
    client, run_id = active_run_target(run_id)
    client.log_artifact(run_id, _state.local_path(local_path) or local_path, artifact_path)


@translate
def log_artifacts(local_dir: str | os.PathLike, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Store a folder's content as artifacts."""
    client, run_id = active_run_target(run_id)
    client.log_artifacts(run_id, _state.local_path(local_dir) or local_dir, artifact_path)


@translate
def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Store text as an artifact file."""
    from pathlib import Path

    _, run_id = active_run_target(run_id)
    with_file(_mlflow_client(), run_id, artifact_file, lambda p: Path(p).write_text(text, encoding="utf-8"))


@translate
def log_dict(dictionary: dict, artifact_file: str, run_id: str | None = None) -> None:
    """Store a dict as a JSON (or YAML) artifact file."""
    _, run_id = active_run_target(run_id)
    write_dict(_mlflow_client(), run_id, dictionary, artifact_file)


@translate
def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict | None = None) -> None:
    """Store a matplotlib (``savefig``) or plotly (``write_html``/``write_image``) figure."""
    _, run_id = active_run_target()

    def write(path: str) -> None:
        if hasattr(figure, "savefig"):
            figure.savefig(path, **(save_kwargs or {}))
        elif path.endswith(".html"):
            figure.write_html(path, **(save_kwargs or {}))
        else:
            figure.write_image(path, **(save_kwargs or {}))

    with_file(_mlflow_client(), run_id, artifact_file, write)


@translate
def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """Store an image (a PIL image, or a numpy array through PIL or matplotlib) as a PNG artifact:
    ``artifact_file``, or ``images/<key>_step_<step>[_timestamp_<ms>].png``."""
    if (artifact_file is None) == (key is None):
        raise MlflowException.invalid_parameter_value("log_image takes either artifact_file or key (with step)")
    _, run_id = active_run_target()
    when = f"_timestamp_{timestamp}" if timestamp is not None else ""
    target = artifact_file or f"images/{key}_step_{step or 0}{when}.png"

    def write(path: str) -> None:
        if hasattr(image, "save"):
            image.save(path)
            return
        try:
            from PIL import Image

            Image.fromarray(image).save(path)
        except ImportError:
            import matplotlib.pyplot as plt

            plt.imsave(path, image)

    with_file(_mlflow_client(), run_id, target, write)


@translate
def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a DataFrame or a dict of columns as a JSON table (MLflow's ``{"columns", "data"}``)."""
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    table = {"columns": [str(c) for c in frame.columns], "data": frame.astype(object).values.tolist()}
    _, run_id = active_run_target(run_id)
    write_dict(_mlflow_client(), run_id, table, artifact_file)


@translate
def log_input(dataset: Any, context: str | None = None, tags: dict | None = None, model: Any = None) -> None:
    """Record a dataset (from ``mlflow.data.from_pandas``/``from_numpy``) the run used: MLflow's
    fields, context and tags, and the DVC hash of a source that is a local file or folder."""
    from gittrack._data.datasets import code_source

    if model is not None:
        raise MlflowException.invalid_parameter_value(
            "log_input(model=...) is not supported: gittrack records a run's datasets, not a model's inputs"
        )
    client, run_id = active_run_target()
    path = getattr(dataset, "local_path", None)
    described = dataset.to_dict() if callable(getattr(dataset, "to_dict", None)) else {}
    source_type = described.get("source_type")
    source: str | None
    if source_type == "code":
        run = client.get_run(run_id)
        source = code_source(run.info.user, run.data.tags.get("mlflow.source.name", ""))
    else:
        source = getattr(dataset, "source_uri", None)
    client.log_dataset(run_id, dataset.name, dataset.digest, context, path, source, tags, source_type=source_type,
                       schema=described.get("schema"), profile=described.get("profile"))  # fmt: skip


@translate
def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The ``file://`` URI of the active run's artifact folder (or of ``artifact_path`` in it), as
    MLflow's local store answers: every artifact and load call takes it, and a download through it
    writes the artifacts there."""
    from gittrack.mlflow._locations import artifact_uri

    client, run_id = active_run_target()
    return artifact_uri(client.repo_path, run_id, artifact_path)


@translate
def get_run(run_id: str) -> Run:
    """A run by id."""
    return _mlflow_client().get_run(run_id)


@translate
def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or None."""
    return _mlflow_client().get_parent_run(run_id)


@translate
def delete_run(run_id: str) -> None:
    """Delete a run (restorable)."""
    _mlflow_client().delete_run(run_id)


def flush_async_logging() -> None:
    """Write what the active run buffered now (gittrack logs synchronously to memory, then commits)."""
    import gittrack._fluent

    active = gittrack._fluent.active_run()
    if active is not None:
        gittrack._fluent.shared_client().flush(active.run_id)


@translate
def search_runs(
    experiment_ids: Any = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
):
    """Runs as a DataFrame with MLflow's columns (or ``Run`` objects with ``output_format="list"``)."""
    names = _convert.experiment_names(experiment_ids)
    if experiment_names is not None:
        names = (names or []) + list(experiment_names)
    if names is None and not search_all_experiments:
        names = [_active_experiment()]
    client = gittrack_client()
    view = ViewType.to_gittrack(run_view_type)
    if output_format == "list":
        runs = client.search_runs(names, filter_string or "", order_by, max_results, view, "list")
        return [_convert.to_mlflow_run(r, client.repo_path) for r in runs]
    if output_format != "pandas":
        raise MlflowException.invalid_parameter_value(
            f"output_format must be 'pandas' or 'list', got {output_format!r}"
        )
    frame = client.search_runs(names, filter_string or "", order_by, max_results, view, "pandas")
    return mlflow_frame(frame, client.repo_path)


def mlflow_frame(frame, repo_path: str):
    """gittrack's search DataFrame with MLflow's columns: run_id, experiment_id, status, artifact_uri,
    start_time, end_time, metrics.*, params.*, tags.* (system tags included)."""
    import pandas as pd

    from gittrack.mlflow._locations import artifact_uri

    out = pd.DataFrame(
        {
            "run_id": frame["run_id"],
            "experiment_id": frame["experiment"],
            "status": frame["status"],
            "artifact_uri": [artifact_uri(repo_path, str(run_id)) for run_id in frame["run_id"]],
            "start_time": frame["start_time"],
            "end_time": frame["end_time"],
        }
    )
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    params = [c for c in frame.columns if c.startswith("params.")]
    system = {
        "tags.mlflow.runName": frame["run_name"],
        "tags.mlflow.user": frame["user"],
        "tags.mlflow.source.git.commit": frame["source_commit"],
        "tags.mlflow.parentRunId": frame["parent_run_id"],
    }
    tags = {c: frame[c] for c in frame.columns if c.startswith("tags.")}
    for column, values in system.items():
        tags.setdefault(column, values)
    tag_frame = pd.DataFrame({c: tags[c] for c in sorted(tags)}, index=frame.index)
    return pd.concat([out, frame[metrics], frame[params], tag_frame], axis=1)


# -- logged models (MLflow 3) ----------------------------------------------------------------------
@translate
def get_logged_model(model_id: str):
    """A model a run logged, by its id (``ModelInfo.model_id``)."""
    return _mlflow_client().get_logged_model(model_id)


@translate
def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any]] | None = None,
    output_format: str = "pandas",
):
    """The models runs logged (the active experiment's unless ``experiment_ids``), as a DataFrame
    with MLflow's columns or, with ``output_format="list"``, ``LoggedModel`` objects."""
    if output_format not in ("pandas", "list"):
        raise MlflowException.invalid_parameter_value(
            f"output_format must be 'pandas' or 'list', got {output_format!r}"
        )
    ids = experiment_ids if experiment_ids is not None else [_active_experiment()]
    found = list(_mlflow_client().search_logged_models(ids, filter_string, datasets, max_results, order_by))
    if output_format == "list":
        return found
    import pandas as pd

    columns = ["artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp", "metrics",
               "model_id", "model_type", "name", "params", "source_run_id", "status", "status_message",
               "tags"]  # fmt: skip
    return pd.DataFrame([{c: getattr(m, c) for c in columns} for m in found], columns=columns)


@translate
def last_logged_model():
    """The model this process logged last, or None."""
    found = STATE.mlflow.last_logged_model
    return None if found is None else get_logged_model(found)


@translate
def register_model(
    model_uri: str, name: str, await_registration_for: int = 300, *, tags: dict | None = None, env_pack: Any = None
):
    """Register a model URI (``runs:/``, ``models:/<model_id>``, an artifact location) as the next
    version of ``name``, at once (there is nothing to await); returns the ``ModelVersion``."""
    from gittrack.mlflow.tracking.client import register

    if env_pack is not None:
        raise MlflowException.invalid_parameter_value(
            "register_model(env_pack=...) is not supported: Databricks model serving is not part of gittrack"
        )

    return register(gittrack_client(_state.registry_repo()), model_uri, name, tags)


def autolog(*args: Any, **kwargs: Any) -> Any:
    """Turn on gittrack's autologging for every supported library (``gittrack.autolog``, whose
    arguments are ``mlflow.autolog``'s, in the same order)."""
    from gittrack.mlflow._autolog import call

    return call(None, kwargs, args)
