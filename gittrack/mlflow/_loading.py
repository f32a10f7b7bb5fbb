"""Where a model's files are: the folder a model URI (``runs:/``, ``models:/``, an artifact
location) or a path names, and its ``MLmodel``; shared by the flavors' loaders and ``mlflow.models``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gittrack.mlflow import _registry, _state
from gittrack.mlflow.exceptions import MlflowException


def is_location(text: str) -> bool:
    """Whether ``text`` is a location in a run's artifact folder (``get_artifact_uri``)."""
    from gittrack.mlflow._locations import parse

    return parse(text) is not None


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """A model folder's ``MLmodel`` (empty when it has none: a model gittrack's own API logged)."""
    import yaml

    file = folder / "MLmodel"
    if not file.is_file():
        return {}
    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else {}


def resolve(model_uri: Any) -> tuple[Any, str, str]:
    """(gittrack client, run id, artifact path) of a runs:/ or models:/ URI or a location in a
    run's artifact folder (``get_artifact_uri("model")``)."""
    from gittrack.mlflow import _locations
    from gittrack.mlflow.tracking.client import gittrack_client

    text = os.fspath(model_uri) if isinstance(model_uri, str | os.PathLike) else None
    found = None if text is None or text.startswith("models:/") else _locations.parse(text)
    if text is None or (found is None and not text.startswith("models:/")):
        raise MlflowException.invalid_parameter_value(
            f"{model_uri!r} is not a runs:/ or models:/ URI, a run's artifact location, or a model folder"
        )
    client = gittrack_client(_state.registry_repo() if found is None else found[0])
    run_id, path = _registry.resolve_model_uri(client, text)
    return client, run_id, path


def model_folder(model_uri: Any, dst_path: str | None = None) -> tuple[Path, str]:
    """(local folder, gittrack flavor) of the model a URI names: a logged model, fetched and
    verified against its run; or a folder on disk that ``save_model`` wrote. With ``dst_path``
    (an existing folder, as in MLflow) the model's files are copied there and read from there."""
    folder, flavor, _ = locate(model_uri, dst_path)
    return folder, flavor


def model_document(folder: Path, logged: tuple[str, str] | None) -> dict[str, Any]:
    """The ``MLmodel`` of a model folder, with the run, artifact path and logged-model id of
    ``logged`` (run id, path) where it has none (a model gittrack's own API or autologging logged)."""
    from gittrack.mlflow._logged import model_id

    document = read_mlmodel(folder)
    if logged is not None and not document.get("run_id"):
        run_id, path = logged
        document.update(run_id=run_id, artifact_path=path, model_id=model_id(run_id, path))
    return document


def locate(model_uri: Any, dst_path: str | None = None) -> tuple[Path, str, tuple[str, str] | None]:
    """:func:`model_folder`, and the (run id, artifact path) of a logged model (None for a folder)."""
    from gittrack._flavors import read_meta

    text = os.fspath(model_uri) if isinstance(model_uri, str | os.PathLike) else ""
    local = None if text.startswith(("runs:/", "models:/")) or is_location(text) else _state.local_path(text)
    logged = None
    if local is not None and Path(local).is_dir():
        folder = Path(local)
        if not (folder / "model.yaml").is_file():
            raise MlflowException.invalid_parameter_value(
                f"'{local}' is not a model gittrack saved (no model.yaml); load an MLflow-made folder with real MLflow"
            )
    else:
        client, run_id, path = resolve(model_uri)
        folder = Path(client.model_folder(f"runs:/{run_id}/{path}"))
        logged = (client.get_run(run_id).info.run_id, path)
    if dst_path is not None:
        if not Path(dst_path).is_dir():
            raise MlflowException.invalid_parameter_value(f"dst_path '{dst_path}' is not an existing folder")
        target = Path(dst_path) / folder.name
        shutil.copytree(folder, target, dirs_exist_ok=True)
        folder = target
    return folder, str(read_meta(folder)["flavor"]), logged
