"""Saving, logging and loading models for the flavor modules (``mlflow.sklearn``, ``mlflow.pyfunc``...).

A model is saved by gittrack (its ``model.yaml``; logged: DVC and the run commit) with MLflow's
files beside it, so real MLflow loads the folder too: ``MLmodel``, the environment files, the
``code/`` of ``code_paths``, the ``extra_files/``, the input example. Every argument of MLflow's
``log_model``/``save_model`` is implemented here or refused by its flavor module in one line
naming it (:func:`refuse`); none is ignored.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gittrack._state import STATE
from gittrack.mlflow import _logged, _registry, _state
from gittrack.mlflow._loading import is_location, model_folder
from gittrack.mlflow.exceptions import MlflowException
from gittrack.mlflow.models.model import ModelInfo
from gittrack.mlflow.models.signature import ModelSignature, infer_signature

PYFUNC = "python_function"
_NOT_GIVEN = (None, False)
NO_MODEL_ID = (
    "each log_model call logs a new model of the run (MLflow's create_logged_model and "
    "initialize_logged_model are not provided)"
)
NO_MLFLOW_MODEL = "gittrack writes the MLmodel itself; give its metadata with metadata="


@dataclass
class Options:
    """MLflow's ``log_model``/``save_model`` arguments after the model, as gittrack uses them."""

    conda_env: Any = None
    code_paths: Any = None
    signature: Any = None
    input_example: Any = None
    pip_requirements: Any = None
    extra_pip_requirements: Any = None
    metadata: dict | None = None
    extra_files: Any = None
    # log_model only
    registered_model_name: str | None = None
    await_registration_for: int = 300  # registration is immediate: there is nothing to wait for
    params: dict | None = None
    tags: dict | None = None
    model_type: str | None = None
    step: int = 0
    # one flavor's: sklearn's/lightgbm's serialization_format, sklearn's pyfunc_predict_fn, pytorch's
    # pickle_module, pyfunc's artifacts, model_config and streamable
    serialization: str | None = None
    predict_fn: str = "predict"
    pickle_module: Any = None
    artifacts: dict | None = None
    model_config: dict | None = None
    streamable: bool | None = None


def refuse(function: str, argument: str, value: Any, why: str, allowed: tuple = _NOT_GIVEN) -> None:
    """Raise, naming the argument, when ``value`` asks for something gittrack does not do."""
    if any(value is a or (a is not None and a is not False and value == a) for a in allowed):
        return
    raise MlflowException.invalid_parameter_value(f"{function}({argument}={value!r}) is not supported: {why}")


def path_of(artifact_path: str | None, name: str | None) -> str:
    """The model's artifact path: ``name`` (MLflow 3), or ``artifact_path`` (its deprecated form)."""
    if artifact_path is not None and name is not None:
        raise MlflowException.invalid_parameter_value(
            "Both `artifact_path` (deprecated) and `name` parameters were specified. Please only specify `name`."
        )
    return (name or artifact_path or "model").strip("/")


# -- the environment ---------------------------------------------------------------------------
def _requirement_lines(value: Any, what: str) -> list[str]:
    """A list of requirements, or the lines of a requirements file named by a path."""
    if isinstance(value, str | os.PathLike):
        lines = Path(value).read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise TypeError(f"{what} must be a list of requirements or the path of a requirements file")


def _conda_env(value: Any) -> dict[str, Any]:
    """``conda_env``: a dict, or the path of a conda YAML file."""
    import yaml

    if isinstance(value, str | os.PathLike):
        value = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise TypeError("conda_env must be a dict or the path of a conda environment YAML file")
    return value


def requirements(opts: Options) -> tuple[list[str] | None, list[str], dict | None]:
    """(pip requirements replacing the flavor's defaults or None, extras added to them, conda env)."""
    given = [n for n in ("conda_env", "pip_requirements", "extra_pip_requirements") if getattr(opts, n) is not None]
    if len(given) > 1:  # MLflow's error, of MLflow's type
        raise ValueError("Only one of `conda_env`, `pip_requirements`, and `extra_pip_requirements` can be specified")
    if opts.conda_env is not None:
        conda = _conda_env(opts.conda_env)
        pip = [d["pip"] for d in conda.get("dependencies") or [] if isinstance(d, dict) and "pip" in d]
        return [str(r) for r in (pip[0] if pip else [])], [], conda
    if opts.pip_requirements is not None:
        return _requirement_lines(opts.pip_requirements, "pip_requirements"), [], None
    if opts.extra_pip_requirements is not None:
        return None, _requirement_lines(opts.extra_pip_requirements, "extra_pip_requirements"), None
    return None, [], None


def _version(package: str) -> str | None:
    from importlib import metadata

    for name in (package, f"{package}-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _environment(folder: Path, requirements: list[str], conda: dict | None) -> dict[str, str]:
    """requirements.txt, python_env.yaml and conda.yaml as MLflow writes them."""
    import yaml

    python = platform.python_version()
    (folder / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    (folder / "python_env.yaml").write_text(
        yaml.safe_dump({"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]})
    )
    if conda is None:
        conda = {
            "name": "mlflow-env",
            "channels": ["conda-forge"],
            "dependencies": [f"python={python}", "pip", {"pip": list(requirements)}],
        }
    (folder / "conda.yaml").write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}


# -- files beside the model --------------------------------------------------------------------
def _local_artifact(source: Any) -> str:
    """A local path for a path, ``file:`` URI, ``runs:/``/``models:/`` URI or artifact location."""
    from gittrack.mlflow.artifacts import download_artifacts

    text = os.fspath(source)
    if text.startswith(("runs:/", "models:/")) or is_location(text):
        return download_artifacts(text)
    local = _state.local_path(text)
    if local is None or not Path(local).exists():
        raise MlflowException.invalid_parameter_value(f"{text!r} is not a local file, nor a runs:/ or models:/ URI")
    return local


def _copy_into(source: str, folder: Path) -> str:
    """Copy a file or folder into ``folder`` under its own name; returns that name."""
    local = Path(source)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / local.name
    if local.is_dir():
        shutil.copytree(local, target, dirs_exist_ok=True)
    else:
        shutil.copy2(local, target)
    return local.name


def _code(folder: Path, code_paths: Any) -> str | None:
    """Copy ``code_paths`` into ``code/`` (put on ``sys.path`` when the model loads), as MLflow."""
    if code_paths is None:
        return None
    if not isinstance(code_paths, list):
        raise TypeError(f"Argument code_paths should be a list, not {type(code_paths)}")
    for source in code_paths:
        local = _state.local_path(os.fspath(source))
        if local is None or not Path(local).exists():
            raise MlflowException.invalid_parameter_value(f"code path {source!r} does not exist")
        _copy_into(local, folder / "code")
    return "code"


def _extra_files(folder: Path, extra_files: Any) -> dict[str, Any]:
    """Copy ``extra_files`` into ``extra_files/``; the flavor's ``extra_files`` entry, as MLflow."""
    if not extra_files:
        return {}
    if not isinstance(extra_files, list):
        raise TypeError("Extra files argument should be a list")
    names = [_copy_into(_local_artifact(source), folder / "extra_files") for source in extra_files]
    return {"extra_files": [{"path": f"extra_files/{name}"} for name in names]}


def example_data(example: Any) -> Any:
    """An input example's data (MLflow also takes ``(input, params)`` tuples)."""
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        return example[0]
    return example


def _save_example(folder: Path, example: Any) -> dict[str, Any]:
    """``input_example.json`` and ``serving_input_example.json`` as MLflow writes them; their info."""
    import sys

    pandas, numpy = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pandas is not None and isinstance(example, pandas.Series):
        example = example.to_frame()
    if pandas is not None and isinstance(example, pandas.DataFrame):
        split = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
        data = {"columns": split["columns"], "data": split["data"]}
        info = {"type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": data}
    else:
        if numpy is not None and isinstance(example, numpy.ndarray):
            data, kind = example.tolist(), "ndarray"
        else:
            data, kind = example, "json_object"
        try:
            json.dumps(data)
        except TypeError:
            raise MlflowException.invalid_parameter_value(
                f"input_example of type {type(example).__name__} cannot be saved as JSON; "
                "give a DataFrame, an array, a dict or a list"
            ) from None
        info, serving = {"type": kind}, {"inputs": data}
    (folder / "input_example.json").write_text(json.dumps(data))
    (folder / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
    return {"artifact_path": "input_example.json", **info, "serving_input_path": "serving_input_example.json"}


def signature_of(flavor: str, model: Any, opts: Options) -> ModelSignature | None:
    """The signature given, else (unless ``signature=False``) one inferred from the input example
    and, for models with ``predict``, the model's output on it, as MLflow does."""
    given = opts.signature
    if given is False:
        return None
    if isinstance(given, ModelSignature):
        return given
    if isinstance(given, dict):
        return ModelSignature.from_dict(given)
    if given is not None:
        raise MlflowException.invalid_parameter_value(
            f"signature must be a ModelSignature (mlflow.models.infer_signature), not {type(given).__name__}"
        )
    if opts.input_example is None:
        return None
    data = example_data(opts.input_example)
    output = None
    predict = getattr(model, opts.predict_fn, None) if flavor in ("sklearn", "xgboost", "lightgbm") else None
    if callable(predict):
        try:
            output = predict(data)
        except Exception:  # noqa: BLE001 - as MLflow: no output schema when the example does not predict
            output = None
    try:
        return infer_signature(data, output)
    except Exception:  # noqa: BLE001 - an example of a kind signatures do not describe
        return None


def mlflow_files(
    flavor: str,
    model: Any,
    opts: Options,
    run_id: str | None,
    artifact_path: str,
    model_id: str | None,
    signature: ModelSignature | None,
    extras: list[str],
    conda: dict | None,
) -> Any:
    """The ``extra`` hook of gittrack's save: MLflow's files beside ``model.yaml``, which it updates
    (requirements with the extras, the ``code`` folder, a python model's artifacts). The ``MLmodel``
    content it wrote is then its ``document`` attribute."""

    def write(folder: Path, meta: dict[str, Any]) -> None:
        import yaml

        from gittrack.mlflow.version import VERSION

        meta["requirements"] = list(meta.get("requirements") or []) + [r for r in extras if r not in meta.get(
            "requirements", [])]  # fmt: skip
        file = str(meta.get("file"))
        cls = type(model)
        env = _environment(folder, list(meta["requirements"]), conda)
        code = _code(folder, opts.code_paths)
        if code is not None:
            meta["code"] = code
        extra_files = _extra_files(folder, opts.extra_files)
        python = platform.python_version()
        pyfunc: dict[str, Any] = {"env": env, "python_version": python}
        if code is not None:
            pyfunc["code"] = code
        flavors: dict[str, Any] = {}
        if flavor == "sklearn":
            flavors[PYFUNC] = {"loader_module": "mlflow.sklearn", "model_path": file, "predict_fn": opts.predict_fn,
                               **pyfunc}  # fmt: skip
            flavors["sklearn"] = {"pickled_model": file, "serialization_format": opts.serialization or "cloudpickle",
                                  "sklearn_version": _version("scikit-learn"), "code": code, **extra_files}  # fmt: skip
        elif flavor == "xgboost":
            flavors[PYFUNC] = {"loader_module": "mlflow.xgboost", "data": file, **pyfunc}
            flavors["xgboost"] = {"xgb_version": _version("xgboost"), "data": file, "code": code,
                                  "model_class": f"{cls.__module__}.{cls.__name__}", "model_format": "ubj",
                                  **extra_files}  # fmt: skip
        elif flavor == "lightgbm":
            flavors[PYFUNC] = {"loader_module": "mlflow.lightgbm", "data": file, **pyfunc}
            flavors["lightgbm"] = {"lgb_version": _version("lightgbm"), "data": file, "code": code,
                                   "model_class": f"{cls.__module__}.{cls.__name__}", **extra_files}  # fmt: skip
        elif flavor == "pytorch":
            import torch

            pickle_module = opts.pickle_module
            if pickle_module is None:
                import cloudpickle

                pickle_module = cloudpickle
            name = "mlflow.pytorch.pickle_module" if opts.pickle_module is None else pickle_module.__name__
            data = folder / "data"
            data.mkdir()
            torch.save(model, data / "model.pth", pickle_module=pickle_module)
            (data / "pickle_module_info.txt").write_text(name)
            flavors[PYFUNC] = {"loader_module": "mlflow.pytorch", "data": "data", "pickle_module_name": name, **pyfunc}
            flavors["pytorch"] = {"model_data": "data", "pytorch_version": _version("torch"), "code": code,
                                  **extra_files}  # fmt: skip
        elif flavor == "python":
            copied = {}
            for key, source in (opts.artifacts or {}).items():
                name = _copy_into(_local_artifact(source), folder / "artifacts")
                copied[key] = {"path": f"artifacts/{name}", "uri": str(source)}
            meta["artifacts"] = {key: value["path"] for key, value in copied.items()}
            flavors[PYFUNC] = {"loader_module": "mlflow.pyfunc.model", "python_model": file,
                               "cloudpickle_version": _version("cloudpickle"), "artifacts": copied,
                               "streamable": bool(opts.streamable), **pyfunc}  # fmt: skip
            if opts.model_config:
                flavors[PYFUNC]["model_config"] = dict(opts.model_config)
        document: dict[str, Any] = {
            "artifact_path": artifact_path,
            "flavors": flavors,
            "mlflow_version": VERSION,
            "model_id": model_id,
            "model_uuid": model_id or uuid.uuid4().hex,
            "run_id": run_id,
            "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "gittrack_version": meta.get("gittrack"),
        }
        if signature is not None:
            document["signature"] = signature.to_dict()
        if opts.input_example is not None:
            document["saved_input_example_info"] = _save_example(folder, example_data(opts.input_example))
        if opts.metadata:
            document["metadata"] = dict(opts.metadata)
        (folder / "MLmodel").write_text(yaml.safe_dump(document, sort_keys=False))
        vars(write)["document"] = document

    vars(write)["document"] = {}
    return write


def _gittrack_example(example: Any) -> Any:
    """The input example gittrack's own signature describes (a DataFrame or an array), else None."""
    import sys

    pandas, numpy = sys.modules.get("pandas"), sys.modules.get("numpy")
    ok = (pandas is not None and isinstance(example, pandas.DataFrame)) or (
        numpy is not None and isinstance(example, numpy.ndarray)
    )
    return example if ok else None


# -- logging and saving ------------------------------------------------------------------------
def log_model(flavor: str, model: Any, path: str, opts: Options) -> ModelInfo:
    """Log ``model`` of ``flavor`` in the active run (started if none) as artifact ``path``, and
    register it at once with ``registered_model_name``."""
    from gittrack._store.timefmt import now_ms
    from gittrack.mlflow._locations import artifact_uri
    from gittrack.mlflow.tracking.fluent import active_run_target

    if model is None:
        raise MlflowException.invalid_parameter_value(f"mlflow.{_module(flavor)}.log_model needs the model")
    client, run_id = active_run_target()
    path = path.strip("/")
    identifier = _logged.model_id(run_id, path)
    signature = signature_of(flavor, model, opts)
    pip, extras, conda = requirements(opts)
    entry: dict[str, Any] = {"model_time": now_ms(), "model_step": int(opts.step or 0)}
    if opts.params:
        entry["model_params"] = {str(k): str(v) for k, v in opts.params.items()}
    if opts.tags:
        entry["model_tags"] = {str(k): str(v) for k, v in opts.tags.items()}
    if opts.model_type is not None:
        entry["model_type"] = str(opts.model_type)
    writer = mlflow_files(flavor, model, opts, run_id, path, identifier, signature, extras, conda)
    example = _gittrack_example(example_data(opts.input_example))
    try:
        client.log_model(
            run_id, model, name=path, flavor=flavor,
            signature=signature.to_gittrack() if signature is not None and example is None else None,
            input_example=example, pip_requirements=pip, serialization=_serialization(flavor, opts), extra=writer,
            entry=entry,
        )  # fmt: skip
    except ImportError as exc:
        raise MlflowException(f"cannot save a {flavor} model: {exc}") from None
    STATE.mlflow.last_logged_model = identifier
    if opts.model_config:  # as MLflow: a python model's configuration is also the run's params
        client.log_params(run_id, _flattened(opts.model_config))
    version = None
    if opts.registered_model_name:
        version = _registry.register(client, f"runs:/{run_id}/{path}", opts.registered_model_name).version
    return ModelInfo.from_mlmodel(
        writer.document,
        model_uri=f"models:/{identifier}",
        artifact_path=path,
        registered_model_version=version,
        params=entry.get("model_params", {}),
        tags=entry.get("model_tags", {}),
        creation_timestamp=entry["model_time"],
        artifact_location=artifact_uri(client.repo_path, run_id, path),
    )


def _flattened(config: dict, prefix: str = "") -> dict[str, Any]:
    """A nested configuration as flat params (``outer/inner``), as MLflow logs ``model_config``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        flat.update(_flattened(value, name) if isinstance(value, dict) else {name: value})
    return flat


def save_model(flavor: str, model: Any, path: str | os.PathLike, opts: Options) -> None:
    """Save ``model`` into the local folder ``path`` (new, or empty), as MLflow's ``save_model``:
    the folder loads with ``mlflow.<flavor>.load_model(path)`` here and with real MLflow."""
    from gittrack._flavors import save_model as save

    if model is None:
        raise MlflowException.invalid_parameter_value(f"mlflow.{_module(flavor)}.save_model needs the model")
    local = _state.local_path(os.fspath(path)) or os.fspath(path)
    folder = Path(local)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise MlflowException(f"Path '{local}' already exists and is not empty", error_code="RESOURCE_ALREADY_EXISTS")
    signature = signature_of(flavor, model, opts)
    pip, extras, conda = requirements(opts)
    writer = mlflow_files(flavor, model, opts, None, folder.name, None, signature, extras, conda)
    example = _gittrack_example(example_data(opts.input_example))
    try:
        save(model, folder, flavor, signature.to_gittrack() if signature is not None and example is None else None,
             example, pip, _serialization(flavor, opts), writer)  # fmt: skip
    except ImportError as exc:
        raise MlflowException(f"cannot save a {flavor} model: {exc}") from None


def _serialization(flavor: str, opts: Options) -> str | None:
    if flavor == "python":
        return "cloudpickle"
    if flavor in ("sklearn", "lightgbm"):
        return opts.serialization or "cloudpickle"
    return None


def _module(flavor: str) -> str:
    return "pyfunc" if flavor == "python" else flavor


# -- loading -----------------------------------------------------------------------------------
def load_native(model_uri: Any, dst_path: str | None = None) -> Any:
    """The model object a URI or model folder names, loaded by gittrack."""
    from gittrack._flavors import load_folder

    folder, _ = model_folder(model_uri, dst_path)
    return load_folder(folder)


def native_loader():
    """``mlflow.<flavor>.load_model`` for flavors whose model loads as the library's own object."""
    from gittrack.mlflow.exceptions import translate

    def load_model(model_uri: str, dst_path: str | None = None) -> Any:
        """The model a runs:/ or models:/ URI, artifact location or saved folder names, as the
        library's own object (``dst_path``: an existing folder to copy the model's files to)."""
        return load_native(model_uri, dst_path)

    return translate(load_model)


def autologger(library: str):
    """``mlflow.<library>.autolog``: gittrack's autologging for that library (``gittrack.autolog.<library>``)."""

    def autolog(*args: Any, **kwargs: Any) -> Any:
        from gittrack.mlflow._autolog import call

        return call(library, kwargs, args)

    autolog.__doc__ = f"gittrack's autologging for {library} (``gittrack.autolog.{library}``)."
    return autolog
