"""The tracking endpoints (``/api/2.0/mlflow/experiments|runs|metrics/...``): each translates a
request into one call of ``gittrack.mlflow``'s ``MlflowClient`` (or ``gittrack.Client``) and its
answer into MLflow's JSON."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from gittrack.server import protocol
from gittrack.server.backend import Backend, as_count, as_int
from gittrack.server.errors import ServerError
from gittrack.server.request import Args

SYSTEM_TAGS = ("mlflow.user", "mlflow.runName", "mlflow.parentRunId")
LAUNCHER = "mlflow-client"  # the launcher of runs an MLflow client created through the server
MAX_HISTORY_PAGE = 25_000  # MLflow's server pages metric histories the same way


def _view(value: Any) -> int:
    from gittrack.mlflow.entities import ViewType

    if value in (None, ""):
        return ViewType.ACTIVE_ONLY
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    return ViewType.from_string(str(value))


# -- experiments ---------------------------------------------------------------------------------
def create_experiment(b: Backend, a: Args) -> dict:
    from gittrack.errors import GittrackError

    tags = protocol.tags_of(a.get("tags"))
    name = a.required("name")
    try:
        return {"experiment_id": b.mlflow.create_experiment(name, None, tags or None)}
    except GittrackError:
        if b.mlflow.get_experiment_by_name(name) is not None:  # MLflow's code, which its client acts on
            raise ServerError(f"Experiment(name={name}) already exists.", "RESOURCE_ALREADY_EXISTS") from None
        raise


def get_experiment(b: Backend, a: Args) -> dict:
    return {"experiment": protocol.experiment(b.mlflow.get_experiment(a.required("experiment_id")))}


def get_experiment_by_name(b: Backend, a: Args) -> dict:
    name = a.required("experiment_name")
    found = b.mlflow.get_experiment_by_name(name)
    if found is None:
        raise ServerError(f"Could not find experiment with name '{name}'", "RESOURCE_DOES_NOT_EXIST")
    return {"experiment": protocol.experiment(found)}


def search_experiments(b: Backend, a: Args) -> dict:
    page = b.mlflow.search_experiments(
        _view(a.get("view_type")), as_int(a.get("max_results"), "max_results", 1000), a.get("filter") or None,
        a.list("order_by") or None, a.get("page_token") or None,
    )  # fmt: skip
    return paged({"experiments": [protocol.experiment(e) for e in page]}, page.token)


def update_experiment(b: Backend, a: Args) -> dict:
    b.mlflow.rename_experiment(a.required("experiment_id"), a.required("new_name"))
    return {}


def delete_experiment(b: Backend, a: Args) -> dict:
    b.mlflow.delete_experiment(a.required("experiment_id"))
    b.written()
    return {}


def restore_experiment(b: Backend, a: Args) -> dict:
    b.mlflow.restore_experiment(a.required("experiment_id"))
    b.written()
    return {}


def set_experiment_tag(b: Backend, a: Args) -> dict:
    b.mlflow.set_experiment_tag(a.required("experiment_id"), a.required("key"), a.get("value", ""))
    b.written()
    return {}


def delete_experiment_tag(b: Backend, a: Args) -> dict:
    b.mlflow.delete_experiment_tag(a.required("experiment_id"), a.required("key"))
    b.written()
    return {}


# -- runs ----------------------------------------------------------------------------------------
def create_run(b: Backend, a: Args) -> dict:
    """A RUNNING run in the experiment, authored by the request's user (the authenticated one, else
    the client's ``user_id``), with the client's tags (``mlflow.source.*`` as the client reports them)."""
    tags = protocol.tags_of(a.get("tags"))
    name = a.get("run_name") or tags.get("mlflow.runName")
    parent = tags.get("mlflow.parentRunId")
    plain = {k: v for k, v in tags.items() if k not in SYSTEM_TAGS}
    experiment = str(a.get("experiment_id") or "0")
    b.mlflow.get_experiment(experiment)  # unknown: RESOURCE_DOES_NOT_EXIST, as MLflow
    user = a.user or a.get("user_id") or tags.get("mlflow.user")
    source = tags.get("mlflow.source.name")
    where = {"experiment": "default" if experiment in ("0", "Default") else experiment,
             "run_name": name or None, "parent_run_id": parent or None, "launcher": LAUNCHER}  # fmt: skip
    with b.author(user):
        created = _on_client_commit(b, tags.get("mlflow.source.git.commit"), source, where)
        if created is None:  # no commit reported, or one this repository does not have: the work tree
            created = b.client.create_run(command=[source] if source else ["mlflow-client"], **where)
    run_id = created.info.run_id
    if plain:
        b.client.set_tags(run_id, plain)
    b.written(run_id)
    return {"run": run_json(b, run_id)}


def _on_client_commit(b: Backend, commit: str | None, source: str | None, where: dict) -> Any:
    """The run on the commit the client reports (``mlflow.source.git.commit``) when this repository
    has it (the team pushed it): its snapshot is the code that ran, its command the client's script
    found in that commit (``mlflow.source.name``). None when there is no such commit here."""
    from gittrack.errors import NotFoundError

    if not commit:
        return None
    try:
        return b.client.create_run(command=["python", source or ""], commit=commit.strip().lower(), **where)
    except NotFoundError:
        return None


def run_json(b: Backend, run_id: str) -> dict:
    return protocol.run(b.mlflow.get_run(run_id), _latest(b, run_id))


def _latest(b: Backend, run_id: str) -> dict[str, tuple[int, int]]:
    """(step, timestamp) of each metric's latest point, from the run's record."""
    try:
        record = b.client.get_run(run_id).details
    except Exception:  # noqa: BLE001 - a deleted run: the values alone
        return {}
    return {k: (int(m.step or 0), int(m.timestamp or 0)) for k, m in record.metrics.items()}


def get_run(b: Backend, a: Args) -> dict:
    return {"run": run_json(b, a.run_id())}


def update_run(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    status = a.get("status")
    b.mlflow.update_run(run_id, status=None, name=a.get("run_name") or None)
    if status and status != "RUNNING" and not _ended_by_its_launcher(b, run_id):
        current = b.mlflow.get_run(run_id).info.status
        if current == "RUNNING":
            b.mlflow.set_terminated(run_id, status)
    b.written()
    return {"run_info": protocol.run_info(b.mlflow.get_run(run_id).info)}


def _ended_by_its_launcher(b: Backend, run_id: str) -> bool:
    """A run ``gittrack run`` started (``reproduce``'s re-run, whose MLflow script resumed it through
    ``MLFLOW_RUN_ID``) is ended by ``gittrack run`` with the command's exit code, not by the script."""
    return b.client.get_run(run_id).details.command.get("launcher") == "gittrack run"


def delete_run(b: Backend, a: Args) -> dict:
    b.mlflow.delete_run(a.run_id())
    b.written()
    return {}


def restore_run(b: Backend, a: Args) -> dict:
    b.mlflow.restore_run(a.run_id())
    b.written()
    return {}


def set_tag(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    key = a.required("key")
    if key == "mlflow.user":
        return {}  # the run's user is its git author
    b.mlflow.set_tag(run_id, key, a.get("value", ""))
    _flush_if_running(b, run_id)
    return {}


def delete_tag(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    b.mlflow.delete_tag(run_id, a.required("key"))
    _flush_if_running(b, run_id)
    return {}


def _flush_if_running(b: Backend, run_id: str) -> None:
    from gittrack.errors import ImmutableRunError

    try:
        b.written(run_id)
    except ImmutableRunError:  # an ended run's tags are notes beside its commit, already written
        b.written()


def log_param(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    b.mlflow.log_param(run_id, a.required("key"), a.get("value", ""))
    b.written(run_id)
    return {}


def log_metric(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    b.mlflow.log_metric(
        run_id, a.required("key"), protocol.to_float(a.required("value")),
        as_int(a.get("timestamp"), "timestamp"), as_int(a.get("step"), "step", 0),
    )  # fmt: skip
    b.written(run_id)
    return {}


def log_batch(b: Backend, a: Args) -> dict:
    from gittrack.mlflow.entities import Metric, Param, RunTag

    run_id = a.run_id()
    now = int(time.time() * 1000)
    metrics = [
        Metric(str(m["key"]), protocol.to_float(m.get("value")), as_count(m.get("timestamp"), "timestamp", now),
               as_count(m.get("step"), "step", 0))
        for m in a.get("metrics") or []
        if not m.get("model_id")  # MLflow 3 copies a run's points to link them to a model: gittrack links by step
    ]  # fmt: skip
    params = [Param(str(p["key"]), str(p.get("value", ""))) for p in a.get("params") or []]
    tags = [RunTag(k, v) for k, v in protocol.tags_of(a.get("tags")).items() if k != "mlflow.user"]
    b.mlflow.log_batch(run_id, metrics, params, tags)
    b.written(run_id)
    return {}


def log_inputs(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    for item in a.get("datasets") or []:
        dataset = item.get("dataset") or {}
        tags = protocol.tags_of(item.get("tags"))
        context = tags.pop("mlflow.data.context", None)
        b.client.log_dataset(
            run_id, str(dataset.get("name", "dataset")), dataset.get("digest"), context, None,
            dataset.get("source"), tags, source_type=dataset.get("source_type"), schema=dataset.get("schema"),
            profile=dataset.get("profile"),
        )  # fmt: skip
    b.written(run_id)
    return {}


def get_metric_history(b: Backend, a: Args) -> dict:
    run_id = a.run_id()
    points = b.mlflow.get_metric_history(run_id, a.required("metric_key"))
    start = _offset(a.get("page_token"))
    size = as_int(a.get("max_results"), "max_results", MAX_HISTORY_PAGE) or MAX_HISTORY_PAGE
    page = points[start : start + size]
    token = _token(start + size) if start + size < len(points) else None
    return paged({"metrics": [protocol.metric(m) for m in page]}, token)


def search_runs(b: Backend, a: Args) -> dict:
    """Runs matching MLflow's filter, a page at a time (the token is an offset), answered from the
    search's flat rows (SQLite's index of run summaries): no run commit is read for a page."""
    from gittrack.mlflow.entities import ViewType

    ids = a.list("experiment_ids")
    names = [_experiment_name(i) for i in ids] or None
    size = as_count(a.get("max_results"), "max_results", 1000)
    start = _offset(a.get("page_token"))
    found = b.client.find_rows(names, a.get("filter") or "", a.list("order_by") or None, size + 1,
                               ViewType.to_gittrack(_view(a.get("run_view_type"))), offset=start)  # fmt: skip
    rows = list(found.rows)
    token = _token(start + size) if len(rows) > size else None
    return paged({"runs": [protocol.row(r) for r in rows[:size]]}, token)


def _experiment_name(experiment_id: Any) -> str:
    text = str(experiment_id)
    return "default" if text in ("0", "Default") else text


def paged(body: dict, token: str | None) -> dict:
    if token:
        body["next_page_token"] = token
    return {k: v for k, v in body.items() if v != []}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: Any) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise ServerError(f"invalid page token {token!r}") from None


# -- the server's facts ------------------------------------------------------------------------------
def log_model_history(b: Backend, a: Args) -> dict:
    """``runs/log-model`` (MLflow 2's ``mlflow.log-model.history`` tag): the run's model entries say it."""
    b.mlflow.get_run(a.run_id())
    return {}


def server_info(b: Backend, a: Args) -> dict:
    return {
        "store_type": "FileStore",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
