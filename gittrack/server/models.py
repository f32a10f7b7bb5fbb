"""MLflow 3's logged models through the server. A model an MLflow client logs is created (PENDING),
its files uploaded to ``mlflow-artifacts:/models/<id>/artifacts``, then finalized: the server keeps
the pending model and its files in ``.git/gittrack/server-models/<id>/`` until then, and at
finalization logs the folder as the run's model (an artifact of kind ``model`` in DVC, its
params, tags and type in the run record), which ``gittrack.mlflow`` then reads as that logged
model (its id is the one ``gittrack.mlflow`` derives)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from typing import Any

from gittrack.server import protocol
from gittrack.server.backend import Backend, as_int
from gittrack.server.errors import ServerError
from gittrack.server.request import Args

_lock = threading.Lock()


def staging(b: Backend, model_id: str) -> str:
    import pygit2

    if not model_id.startswith("m-") or "/" in model_id or ".." in model_id:
        raise ServerError(f"{model_id!r} is not a logged model id", "RESOURCE_DOES_NOT_EXIST")
    git_dir = pygit2.discover_repository(b.repo)
    if git_dir is None:
        raise ServerError(f"{b.repo} is no longer a git repository", "INTERNAL_ERROR")
    return os.path.join(git_dir, "gittrack", "server-models", model_id)


def pending(b: Backend, model_id: str) -> dict[str, Any] | None:
    """A model created and not finalized yet, or None."""
    try:
        with open(os.path.join(staging(b, model_id), "model.json"), encoding="utf-8") as handle:
            return dict(json.load(handle))
    except (OSError, ValueError):
        return None


def _save(b: Backend, meta: dict[str, Any]) -> None:
    folder = staging(b, meta["model_id"])
    os.makedirs(os.path.join(folder, "files"), exist_ok=True)
    tmp = os.path.join(folder, "model.json.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    os.replace(tmp, os.path.join(folder, "model.json"))


def _pending_json(meta: dict[str, Any]) -> dict[str, Any]:
    info = {
        "model_id": meta["model_id"], "experiment_id": meta["experiment_id"], "name": meta["name"],
        "creation_timestamp_ms": meta["time"], "last_updated_timestamp_ms": meta["time"],
        "artifact_uri": protocol.model_artifact_uri(meta["model_id"]), "status": "LOGGED_MODEL_PENDING",
        "source_run_id": meta["run_id"], "tags": protocol.key_values(meta.get("tags", {})),
    }  # fmt: skip
    if meta.get("model_type"):
        info["model_type"] = meta["model_type"]
    return {"info": info, "data": {"params": protocol.key_values(meta.get("params", {}))}}


def create(b: Backend, a: Args) -> dict:
    run_id = a.get("source_run_id")
    if not run_id:
        raise ServerError("gittrack keeps a logged model in the run that logged it: give source_run_id")
    run = b.mlflow.get_run(run_id)
    if run.info.status != "RUNNING":
        raise ServerError(f"run {run_id} has ended ({run.info.status}); log models while it runs", "INVALID_STATE")
    name = str(a.get("name") or "model")
    model_id = protocol.model_id(run.info.run_id, name)
    meta = {
        "model_id": model_id, "run_id": run.info.run_id, "experiment_id": str(run.info.experiment_id),
        "name": name, "model_type": a.get("model_type"), "time": int(time.time() * 1000),
        "params": protocol.tags_of(a.get("params")), "tags": protocol.tags_of(a.get("tags")),
    }  # fmt: skip
    with _lock:
        if pending(b, model_id) is None:
            shutil.rmtree(staging(b, model_id), ignore_errors=True)
            _save(b, meta)
        else:
            meta = pending(b, model_id) or meta
    return {"model": _pending_json(meta)}


def get(b: Backend, a: Args) -> dict:
    model_id = a.required("model_id")
    meta = pending(b, model_id)
    if meta is not None:
        return {"model": _pending_json(meta)}
    return {"model": protocol.logged_model(b.mlflow.get_logged_model(model_id))}


def finalize(b: Backend, a: Args) -> dict:
    model_id = a.required("model_id")
    meta = pending(b, model_id)
    if meta is None:
        return get(b, a)  # finalized already (or never created: not found)
    folder = staging(b, model_id)
    if str(a.get("status", "")).endswith("READY"):
        entry = {"model_time": meta["time"], "model_step": 0, "model_params": meta.get("params", {}),
                 "model_tags": meta.get("tags", {})}  # fmt: skip
        if meta.get("model_type"):
            entry["model_type"] = meta["model_type"]
        b.client.log_model_folder(meta["run_id"], os.path.join(folder, "files"), meta["name"], entry)
        b.written(meta["run_id"])
        shutil.rmtree(folder, ignore_errors=True)
        return get(b, a)
    shutil.rmtree(folder, ignore_errors=True)  # an upload that failed leaves nothing behind
    return {"model": {**_pending_json(meta), "info": {**_pending_json(meta)["info"],
                                                      "status": "LOGGED_MODEL_UPLOAD_FAILED"}}}  # fmt: skip


def set_tags(b: Backend, a: Args) -> dict:
    model_id = a.required("model_id")
    meta = pending(b, model_id)
    if meta is None:
        tags = protocol.tags_of(a.get("tags"))
        if all(k.startswith("mlflow.") for k in tags):  # MLflow's bookkeeping (mlflow.modelVersions): the
            return get(b, a)  # registry's tags say it already
        raise ServerError(f"logged model {model_id}'s tags are part of its run's commit once it is finalized",
                          "INVALID_STATE")  # fmt: skip
    meta["tags"] = {**meta.get("tags", {}), **protocol.tags_of(a.get("tags"))}
    _save(b, meta)
    return {"model": _pending_json(meta)}


def delete_tag(b: Backend, a: Args) -> dict:
    model_id = a.required("model_id")
    meta = pending(b, model_id)
    if meta is not None:
        meta.get("tags", {}).pop(str(a.required("tag_key")), None)
        _save(b, meta)
    return {}


def log_params(b: Backend, a: Args) -> dict:
    model_id = a.required("model_id")
    meta = pending(b, model_id)
    if meta is None:
        raise ServerError(f"logged model {model_id} is finalized: its params are part of its run's commit",
                          "INVALID_STATE")  # fmt: skip
    meta["params"] = {**meta.get("params", {}), **protocol.tags_of(a.get("params"))}
    _save(b, meta)
    return {}


def search(b: Backend, a: Args) -> dict:
    from gittrack.server.tracking import paged

    order = a.get("order_by") or None
    page = b.mlflow.search_logged_models(
        a.list("experiment_ids"), a.get("filter") or None, None,
        as_int(a.get("max_results"), "max_results"), order, a.get("page_token") or None,
    )  # fmt: skip
    return paged({"models": [protocol.logged_model(m) for m in page]}, page.token)


def delete(b: Backend, a: Args) -> dict:
    raise ServerError("a logged model is part of its run's commit; delete the run instead")


def outputs(b: Backend, a: Args) -> dict:
    """``runs/outputs``: the model is linked to its run when it is finalized; nothing to record."""
    b.mlflow.get_run(a.run_id())
    return {}


# -- the files of a model, for the artifact proxy ----------------------------------------------------
def file_target(b: Backend, model_id: str, rel: str) -> tuple[str | None, str, str]:
    """(staging folder or None, run id, path in the run) of a model's file ``rel``."""
    meta = pending(b, model_id)
    if meta is not None:
        return os.path.join(staging(b, model_id), "files"), meta["run_id"], f"{meta['name']}/{rel}".rstrip("/")
    model = b.mlflow.get_logged_model(model_id)
    return None, str(model.source_run_id), f"{model.name}/{rel}".rstrip("/")
