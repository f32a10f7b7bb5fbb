"""Logging and loading models for the flavor modules (``mlflow.sklearn``, ``mlflow.xgboost``...).

A model is saved by gittrack's ``log_model`` (its ``model.yaml``, DVC, the run commit) with an
MLflow ``MLmodel`` file and MLflow's file layout beside it, so real MLflow loads the folder too
(``mlflow.pyfunc.load_model(<downloaded folder>)``).
"""

from __future__ import annotations

import os
import platform
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from gittrack.mlflow import _registry, _state
from gittrack.mlflow.exceptions import MlflowException, translate
from gittrack.mlflow.models.model import ModelInfo
from gittrack.mlflow.models.signature import ModelSignature, infer_signature

PYFUNC = "python_function"


def _version(package: str) -> str | None:
    from importlib import metadata

    for name in (package, f"{package}-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _environment(folder: Path, requirements: list[str]) -> dict[str, str]:
    """requirements.txt, python_env.yaml and conda.yaml as MLflow writes them."""
    import yaml

    python = platform.python_version()
    (folder / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    (folder / "python_env.yaml").write_text(
        yaml.safe_dump({"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]})
    )
    conda = {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": list(requirements)}],
    }
    (folder / "conda.yaml").write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


def _mlmodel_writer(
    flavor: str,
    model: Any,
    artifact_path: str,
    run_id: str,
    signature: ModelSignature | None,
    artifacts: dict[str, str] | None,
    model_uuid: str,
    created: str,
    metadata: dict | None,
):
    """The ``extra`` hook of gittrack's log_model: MLmodel and MLflow's files beside model.yaml."""

    def write(folder: Path, meta: dict[str, Any]) -> None:
        import yaml

        file = str(meta.get("file"))
        cls = type(model)
        env = _environment(folder, list(meta.get("requirements") or []))
        python = platform.python_version()
        flavors: dict[str, Any] = {}
        if flavor == "sklearn":
            flavors[PYFUNC] = {
                "loader_module": "mlflow.sklearn",
                "model_path": file,
                "predict_fn": "predict",
                "env": env,
                "python_version": python,
            }
            flavors["sklearn"] = {
                "pickled_model": file,
                "serialization_format": "cloudpickle",
                "sklearn_version": _version("scikit-learn"),
                "code": None,
            }
        elif flavor == "xgboost":
            flavors[PYFUNC] = {"loader_module": "mlflow.xgboost", "data": file, "env": env, "python_version": python}
            flavors["xgboost"] = {
                "xgb_version": _version("xgboost"),
                "data": file,
                "code": None,
                "model_class": f"{cls.__module__}.{cls.__name__}",
                "model_format": "ubj",
            }
        elif flavor == "lightgbm":
            flavors[PYFUNC] = {"loader_module": "mlflow.lightgbm", "data": file, "env": env, "python_version": python}
            flavors["lightgbm"] = {
                "lgb_version": _version("lightgbm"),
                "data": file,
                "code": None,
                "model_class": f"{cls.__module__}.{cls.__name__}",
            }
        elif flavor == "pytorch":
            import cloudpickle
            import torch

            data = folder / "data"
            data.mkdir()
            torch.save(model, data / "model.pth", pickle_module=cloudpickle)
            (data / "pickle_module_info.txt").write_text("mlflow.pytorch.pickle_module")
            flavors[PYFUNC] = {
                "loader_module": "mlflow.pytorch",
                "data": "data",
                "env": env,
                "python_version": python,
                "pickle_module_name": "mlflow.pytorch.pickle_module",
            }
            flavors["pytorch"] = {"model_data": "data", "pytorch_version": _version("torch"), "code": None}
        elif flavor == "python":
            copied = {}
            for key, source in (artifacts or {}).items():
                local = Path(_local_artifact(source))
                target = folder / "artifacts" / local.name
                target.parent.mkdir(exist_ok=True)
                if local.is_dir():
                    shutil.copytree(local, target)
                else:
                    shutil.copy2(local, target)
                copied[key] = {"path": f"artifacts/{local.name}", "uri": str(source)}
            meta["artifacts"] = {key: value["path"] for key, value in copied.items()}
            flavors[PYFUNC] = {
                "loader_module": "mlflow.pyfunc.model",
                "python_model": file,
                "env": env,
                "python_version": python,
                "cloudpickle_version": _version("cloudpickle"),
                "artifacts": copied,
                "streamable": False,
            }
        document: dict[str, Any] = {
            "artifact_path": artifact_path,
            "flavors": flavors,
            "model_uuid": model_uuid,
            "run_id": run_id,
            "utc_time_created": created,
            "gittrack_version": meta.get("gittrack"),
        }
        if signature is not None:
            document["signature"] = signature.to_dict()
        if metadata:
            document["metadata"] = dict(metadata)
        (folder / "MLmodel").write_text(yaml.safe_dump(document, sort_keys=False))

    return write


def _local_artifact(source: str) -> str:
    """A pyfunc artifact's local path: a path, ``file:`` URI or ``runs:/`` URI (downloaded)."""
    if str(source).startswith("runs:/"):
        from gittrack.mlflow.tracking.client import MlflowClient

        run_id, _, path = str(source)[len("runs:/") :].partition("/")
        return MlflowClient().download_artifacts(run_id, path)
    local = _state.local_path(str(source))
    if local is None or not Path(local).exists():
        raise MlflowException.invalid_parameter_value(f"artifact {source!r} is not a local file or a runs:/ URI")
    return local


def log_model(
    flavor: str,
    model: Any,
    artifact_path: str | None = None,
    name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    pip_requirements: list[str] | None = None,
    serialization: str | None = None,
    artifacts: dict[str, str] | None = None,
    metadata: dict | None = None,
    extra_pip_requirements: list[str] | None = None,
) -> ModelInfo:
    """Log ``model`` of ``flavor`` in the active run (started if none) as artifact ``name``."""
    from gittrack.mlflow.tracking.fluent import active_run_target

    client, run_id = active_run_target()
    path = (name or artifact_path or "model").strip("/")
    if signature is not None and not isinstance(signature, ModelSignature):
        signature = ModelSignature.from_dict(signature) if isinstance(signature, dict) else None
    if signature is None and input_example is not None:
        signature = infer_signature(_example_input(input_example))
    model_uuid = uuid.uuid4().hex
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    writer = _mlmodel_writer(flavor, model, path, run_id, signature, artifacts, model_uuid, created, metadata)
    requirements = list(pip_requirements) if pip_requirements is not None else None
    if extra_pip_requirements:
        requirements = (requirements or []) + list(extra_pip_requirements)
    example = _example_input(input_example) if input_example is not None else None
    try:
        client.log_model(
            run_id,
            model,
            name=path,
            flavor=flavor,
            signature=signature.to_dict() if signature is not None and example is None else None,
            input_example=example if _gittrack_example(example) else None,
            pip_requirements=requirements,
            serialization=serialization,
            extra=writer,
        )
    except ImportError as exc:
        raise MlflowException(f"cannot save a {flavor} model: {exc}") from None
    version = None
    if registered_model_name:
        version = _registry.register(client, f"runs:/{run_id}/{path}", registered_model_name).version
    return ModelInfo(
        path,
        f"runs:/{run_id}/{path}",
        run_id,
        {flavor: {}},
        signature,
        version,
        model_uuid,
        created,
        dict(metadata or {}),
    )


def _example_input(example: Any) -> Any:
    """An input example's data (MLflow also takes ``(input, params)`` tuples and dicts)."""
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        return example[0]
    return example


def _gittrack_example(example: Any) -> bool:
    import sys

    pandas, numpy = sys.modules.get("pandas"), sys.modules.get("numpy")
    return (pandas is not None and isinstance(example, pandas.DataFrame)) or (
        numpy is not None and isinstance(example, numpy.ndarray)
    )


def resolve(model_uri: str) -> tuple[Any, str, str]:
    """(gittrack client, run id, artifact path) of a runs:/ or models:/ URI or a location in a
    run's artifact folder (``get_artifact_uri("model")``)."""
    from gittrack.mlflow import _locations
    from gittrack.mlflow.tracking.client import gittrack_client

    text = os.fspath(model_uri) if isinstance(model_uri, str | os.PathLike) else None
    found = None if text is None or text.startswith("models:/") else _locations.parse(text)
    if text is None or (found is None and not text.startswith("models:/")):
        raise MlflowException.invalid_parameter_value(
            f"gittrack.mlflow loads runs:/<run id>/<path> and models:/ URIs, not {model_uri!r}; "
            "for a folder on disk use real MLflow (the folder has an MLmodel file)"
        )
    client = gittrack_client(_state.registry_repo() if found is None else found[0])
    run_id, path = _registry.resolve_model_uri(client, text)
    return client, run_id, path


def load_native(model_uri: str) -> Any:
    """The model object a URI names, loaded by gittrack (fetched, verified against the run, loaded)."""
    client, run_id, path = resolve(model_uri)
    return client.load_model(f"runs:/{run_id}/{path}")


def flavor_of(model_uri: str) -> tuple[Any, str, str, str]:
    """(client, run id, path, gittrack flavor) of the model a URI names."""
    client, run_id, path = resolve(model_uri)
    for artifact in client.get_run(run_id).record.artifacts:
        if artifact.get("path") == path and artifact.get("kind") == "model":
            return client, run_id, path, str(artifact.get("flavor"))
    raise MlflowException(f"run {run_id} has no model at {path!r}", error_code="RESOURCE_DOES_NOT_EXIST")


# MLflow's log_model arguments after the model, in their positional order; a flavor may insert
# its own (pytorch's pickle_module) after code_paths
_LOG_ARGS = ("artifact_path", "conda_env", "code_paths", "registered_model_name", "signature", "input_example",
             "await_registration_for", "pip_requirements", "extra_pip_requirements", "metadata", "name")  # fmt: skip


def model_logger(flavor: str, model_arg: str, serialization: str | None = None, own_args: tuple[str, ...] = ()):
    """``mlflow.<flavor>.log_model``: the model positionally or as ``model_arg`` (MLflow's name for
    it, e.g. ``sk_model``), then MLflow's arguments in MLflow's order; those gittrack has no use
    for (``conda_env``, ``code_paths``, ``await_registration_for``, ``own_args``) are accepted."""
    names = (model_arg, *_LOG_ARGS[:3], *own_args, *_LOG_ARGS[3:])

    def flavor_log_model(*args: Any, **kwargs: Any) -> ModelInfo:
        if len(args) > len(names) or set(names[: len(args)]) & set(kwargs):
            raise TypeError(f"mlflow.{flavor}.log_model() takes {', '.join(names)}, each once")
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        if given.get(model_arg) is None:
            raise MlflowException.invalid_parameter_value(f"mlflow.{flavor}.log_model needs the model ({model_arg})")
        return log_model(
            flavor, given[model_arg], given.get("artifact_path"), given.get("name"), given.get("signature"),
            given.get("input_example"), given.get("registered_model_name"), given.get("pip_requirements"),
            serialization, metadata=given.get("metadata"), extra_pip_requirements=given.get("extra_pip_requirements"),
        )  # fmt: skip

    flavor_log_model.__name__ = flavor_log_model.__qualname__ = "log_model"
    flavor_log_model.__doc__ = (
        f"Log the {flavor} model in the active run (artifact ``name``, default ``model``); with "
        "``registered_model_name``, also register it as that model's next version."
    )
    return translate(flavor_log_model)


def native_loader():
    """``mlflow.<flavor>.load_model`` for flavors whose model loads as the library's own object."""

    def load_model(model_uri: str, dst_path: str | None = None) -> Any:
        """The model a runs:/ or models:/ URI names, as the library's own object."""
        return load_native(model_uri)

    return translate(load_model)


def autologger(library: str):
    """``mlflow.<library>.autolog``: gittrack's autologging for that library (``gittrack.autolog.<library>``)."""

    def autolog(**kwargs: Any) -> Any:
        from gittrack.mlflow._autolog import call

        return call(library, kwargs)

    autolog.__doc__ = f"gittrack's autologging for {library} (``gittrack.autolog.{library}``)."
    return autolog
