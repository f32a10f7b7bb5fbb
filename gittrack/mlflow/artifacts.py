"""``mlflow.artifacts`` for gittrack: downloading and reading artifacts by URI.

Every call takes what MLflow's take: ``runs:/<run>/<path>``, ``models:/...``, a run's artifact
location (``get_artifact_uri``, ``run.info.artifact_uri``: a ``file:`` URI or path), or
``run_id`` and ``artifact_path``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gittrack.mlflow.exceptions import MlflowException, translate


def _target(
    artifact_uri: str | None, run_id: str | None, artifact_path: str | None, tracking_uri: str | None
) -> tuple[Any, str, str, bool]:
    """(gittrack client, run id, artifact path, whether the URI is a run's artifact location)."""
    from gittrack.mlflow import _locations, _registry, _state
    from gittrack.mlflow.tracking.client import gittrack_client

    repo = None
    if tracking_uri is not None:
        local = _state.local_path(str(tracking_uri))
        repo = _state.repo_root(local) if local is not None else None
    if artifact_uri is None:
        if run_id is None:
            raise MlflowException.invalid_parameter_value("give artifact_uri, or run_id (and artifact_path)")
        return gittrack_client(repo), run_id, (artifact_path or "").strip("/"), False
    if run_id is not None or artifact_path is not None:
        raise MlflowException.invalid_parameter_value("give either artifact_uri or run_id and artifact_path, not both")
    text = os.fspath(artifact_uri)
    if text.startswith("models:/"):
        client = gittrack_client(_state.registry_repo() if repo is None else repo)
        found_run, path = _registry.resolve_model_uri(client, text)
        return client, found_run, path, False
    found = _locations.parse(text)
    if found is None:
        raise MlflowException.invalid_parameter_value(
            f"gittrack reads runs:/ and models:/ URIs and runs' artifact locations (get_artifact_uri), not {text!r}"
        )
    where, found_run, path = found
    return gittrack_client(where or repo), found_run, path, not text.startswith("runs:/")


@translate
def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """Download artifacts; returns their absolute local path. Through a run's artifact location
    (``get_artifact_uri``) without ``dst_path`` they are written at that location, as in MLflow's
    local store; else into ``dst_path`` or a new temporary folder."""
    from gittrack.mlflow._locations import run_folder
    from gittrack.mlflow.tracking.client import download

    if registry_uri is not None and tracking_uri is None and str(artifact_uri or "").startswith("models:/"):
        tracking_uri = registry_uri
    client, found_run, path, in_place = _target(artifact_uri, run_id, artifact_path, tracking_uri)
    if in_place and dst_path is None:
        dst_path = str(run_folder(client.repo_path, client.get_run(found_run).info.run_id))
    return download(client, found_run, path, dst_path)


@translate
def load_text(artifact_uri: str) -> str:
    """An artifact file's text."""
    return Path(download_artifacts(artifact_uri)).read_text(encoding="utf-8")


@translate
def load_dict(artifact_uri: str) -> dict:
    """An artifact JSON (or YAML) file as a dict."""
    text = load_text(artifact_uri)
    if str(artifact_uri).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


@translate
def load_image(artifact_uri: str):
    """An artifact image as a PIL image."""
    from PIL import Image

    image = Image.open(download_artifacts(artifact_uri))
    image.load()
    return image


@translate
def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
):
    """The artifacts directly under a URI (or ``run_id`` and ``artifact_path``), as ``FileInfo``. As
    in MLflow, through a URI their paths are relative to the URI's parent (``<location>/plots`` lists
    ``plots/a.png``; a run's location itself lists ``artifacts/...``); by run id, to the run's root."""
    from gittrack.mlflow.entities import FileInfo
    from gittrack.mlflow.tracking.client import list_artifacts as listing

    client, found_run, path, _ = _target(artifact_uri, run_id, artifact_path, tracking_uri)
    found = listing(client, found_run, path or None)
    if artifact_uri is None:
        return found
    parent = path.rpartition("/")[0]
    shown = [f"artifacts/{f.path}" if not path else f.path[len(parent) + 1 :] if parent else f.path for f in found]
    return [FileInfo(name, f.is_dir, f.file_size) for name, f in zip(shown, found, strict=True)]
