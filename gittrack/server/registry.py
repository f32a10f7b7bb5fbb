"""The model registry endpoints (``/api/2.0/mlflow/registered-models|model-versions/...``) over
``gittrack.mlflow``'s registry: versions and stages are GTO tags, descriptions and tags git notes."""

from __future__ import annotations

import re

from gittrack.server import protocol
from gittrack.server.backend import Backend, as_int
from gittrack.server.errors import ServerError
from gittrack.server.request import Args
from gittrack.server.tracking import paged

_NOT_PROMPT = re.compile(r"""\s*(?:AND\s+)?tags?\.`?mlflow\.prompt\.is_prompt`?\s*!=\s*'true'\s*(?:AND\s+)?""",
                         re.IGNORECASE)  # fmt: skip


def registry_filter(text: str | None) -> str | None:
    """The filter without the clause MLflow's client adds to leave prompts out (``tag.`mlflow.prompt.
    is_prompt` != 'true'``, which a model without the tag matches in MLflow): gittrack has no prompts."""
    if not text:
        return None
    return _NOT_PROMPT.sub(" ", text).strip() or None


def create_registered_model(b: Backend, a: Args) -> dict:
    from gittrack.errors import NotFoundError

    name = a.required("name")
    try:
        b.mlflow.get_registered_model(name)
    except NotFoundError:
        pass
    else:  # MLflow's code: its client goes on registering the version
        raise ServerError(f"Registered Model (name={name}) already exists.", "RESOURCE_ALREADY_EXISTS")
    found = b.mlflow.create_registered_model(a.required("name"), protocol.tags_of(a.get("tags")) or None,
                                             a.get("description"))  # fmt: skip
    b.written()
    return {"registered_model": protocol.registered_model(found)}


def get_registered_model(b: Backend, a: Args) -> dict:
    return {"registered_model": protocol.registered_model(b.mlflow.get_registered_model(a.required("name")))}


def search_registered_models(b: Backend, a: Args) -> dict:
    size = as_int(a.get("max_results"), "max_results", 100) or 100
    page = b.mlflow.search_registered_models(registry_filter(a.get("filter")), size, a.list("order_by") or None,
                                             a.get("page_token") or None)  # fmt: skip
    return paged({"registered_models": [protocol.registered_model(m) for m in page]}, page.token)


def update_registered_model(b: Backend, a: Args) -> dict:
    found = b.mlflow.update_registered_model(a.required("name"), a.get("description"))
    b.written()
    return {"registered_model": protocol.registered_model(found)}


def rename_registered_model(b: Backend, a: Args) -> dict:
    b.mlflow.rename_registered_model(a.required("name"), a.required("new_name"))
    return {}


def delete_registered_model(b: Backend, a: Args) -> dict:
    b.mlflow.delete_registered_model(a.required("name"))
    b.written()
    return {}


def set_registered_model_tag(b: Backend, a: Args) -> dict:
    b.mlflow.set_registered_model_tag(a.required("name"), a.required("key"), a.get("value", ""))
    b.written()
    return {}


def delete_registered_model_tag(b: Backend, a: Args) -> dict:
    b.mlflow.delete_registered_model_tag(a.required("name"), a.required("key"))
    b.written()
    return {}


def get_latest_versions(b: Backend, a: Args) -> dict:
    found = b.mlflow.get_latest_versions(a.required("name"), a.list("stages") or None)
    return {"model_versions": [protocol.model_version(v) for v in found]}


def create_model_version(b: Backend, a: Args) -> dict:
    found = b.mlflow.create_model_version(
        a.required("name"), a.required("source"), a.get("run_id") or None, protocol.tags_of(a.get("tags")) or None,
        None, a.get("description"), 0, a.get("model_id") or None,
    )  # fmt: skip
    b.written()
    return {"model_version": protocol.model_version(found)}


def get_model_version(b: Backend, a: Args) -> dict:
    return {
        "model_version": protocol.model_version(b.mlflow.get_model_version(a.required("name"), a.required("version")))
    }


def search_model_versions(b: Backend, a: Args) -> dict:
    size = as_int(a.get("max_results"), "max_results", 10000) or 10000
    page = b.mlflow.search_model_versions(registry_filter(a.get("filter")), size, a.list("order_by") or None,
                                          a.get("page_token") or None)  # fmt: skip
    return paged({"model_versions": [protocol.model_version(v) for v in page]}, page.token)


def update_model_version(b: Backend, a: Args) -> dict:
    found = b.mlflow.update_model_version(a.required("name"), a.required("version"), a.get("description"))
    b.written()
    return {"model_version": protocol.model_version(found)}


def delete_model_version(b: Backend, a: Args) -> dict:
    b.mlflow.delete_model_version(a.required("name"), a.required("version"))
    b.written()
    return {}


def transition_stage(b: Backend, a: Args) -> dict:
    archive = str(a.get("archive_existing_versions", False)).lower() == "true"
    found = b.mlflow.transition_model_version_stage(a.required("name"), a.required("version"), a.required("stage"),
                                                    archive)  # fmt: skip
    b.written()
    return {"model_version": protocol.model_version(found)}


def get_download_uri(b: Backend, a: Args) -> dict:
    found = b.mlflow.get_model_version(a.required("name"), a.required("version"))
    if found.model_id:  # the logged model's own location (its files are listed there, not under the run's)
        return {"artifact_uri": protocol.model_artifact_uri(found.model_id)}
    return {"artifact_uri": f"{protocol.run_artifact_uri(str(found.run_id))}/{found.gto_artifact or 'model'}"}


def set_model_version_tag(b: Backend, a: Args) -> dict:
    b.mlflow.set_model_version_tag(a.required("name"), a.required("version"), a.required("key"), a.get("value", ""))
    b.written()
    return {}


def delete_model_version_tag(b: Backend, a: Args) -> dict:
    b.mlflow.delete_model_version_tag(a.required("name"), a.required("version"), a.required("key"))
    b.written()
    return {}


def set_alias(b: Backend, a: Args) -> dict:
    b.mlflow.set_registered_model_alias(a.required("name"), a.required("alias"), a.required("version"))
    b.written()
    return {}


def delete_alias(b: Backend, a: Args) -> dict:
    b.mlflow.delete_registered_model_alias(a.required("name"), a.required("alias"))
    b.written()
    return {}


def get_by_alias(b: Backend, a: Args) -> dict:
    found = b.mlflow.get_model_version_by_alias(a.required("name"), a.required("alias"))
    return {"model_version": protocol.model_version(found)}
