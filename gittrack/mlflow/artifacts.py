"""``mlflow.artifacts`` for gittrack: downloading and reading artifacts by URI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gittrack.mlflow.exceptions import MlflowException, translate


@translate
def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    **_: Any,
) -> str:
    """Download ``runs:/<run>/<path>`` (or ``run_id`` and ``artifact_path``); returns the local path."""
    from gittrack.mlflow.tracking.client import download, gittrack_client

    if artifact_uri is not None:
        if not artifact_uri.startswith("runs:/"):
            raise MlflowException.invalid_parameter_value(f"gittrack downloads runs:/ URIs, not {artifact_uri!r}")
        run_id, _, artifact_path = artifact_uri[len("runs:/") :].partition("/")
    if run_id is None:
        raise MlflowException.invalid_parameter_value("give artifact_uri or run_id")
    return download(gittrack_client(), run_id, artifact_path or "", dst_path)


@translate
def load_text(artifact_uri: str) -> str:
    """An artifact file's text."""
    return Path(download_artifacts(artifact_uri)).read_text(encoding="utf-8")


@translate
def load_dict(artifact_uri: str) -> dict:
    """An artifact JSON (or YAML) file as a dict."""
    text = load_text(artifact_uri)
    if artifact_uri.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


@translate
def list_artifacts(artifact_uri: str | None = None, run_id: str | None = None, artifact_path: str | None = None):
    """The artifacts under a ``runs:/`` URI."""
    from gittrack.mlflow.tracking.client import MlflowClient

    if artifact_uri is not None:
        run_id, _, artifact_path = artifact_uri[len("runs:/") :].partition("/")
    return MlflowClient().list_artifacts(run_id, artifact_path or None)
