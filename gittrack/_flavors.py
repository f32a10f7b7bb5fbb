"""Models as artifacts: saved with a flavor and a ``model.yaml``, loaded back as live objects.

Flavors: ``sklearn`` (joblib, else pickle), ``pytorch`` (state_dict plus the class path),
``xgboost`` (XGBoost's UBJSON, a Booster or a sklearn wrapper as it was), ``lightgbm`` (a Booster
in LightGBM's text format, its sklearn wrappers pickled), ``lightning`` (a LightningModule as a
Lightning checkpoint), ``transformers`` (``save_pretrained``/``from_pretrained``), ``python``
(any picklable object with ``predict``; pickle) and ``file`` (an existing model file or folder,
loaded back as its local path). Pickle and joblib run code when loaded: a model is only loaded
after its content hash matches the pointer recorded in the run commit.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._artifacts import artifact_entry, dvc_of, log_entry
from gittrack._data import dvcstore
from gittrack._store import naming
from gittrack._store.writer import RunWriter
from gittrack._store.yamlio import dump_yaml, load_yaml
from gittrack._version import __version__
from gittrack.errors import ModelError, UsageError

if TYPE_CHECKING:
    import pygit2

    from gittrack._entities import Run

log = logging.getLogger("gittrack")
FLAVORS = ("sklearn", "pytorch", "xgboost", "lightgbm", "lightning", "transformers", "python", "file")
SERIALIZATIONS = ("pickle", "cloudpickle")
MODEL_YAML = "model.yaml"
_FLAVOR_PACKAGES = {
    "sklearn": ["scikit-learn", "numpy", "scipy", "joblib"], "pytorch": ["torch"], "python": [],
    "xgboost": ["xgboost", "xgboost-cpu", "numpy", "scipy"], "lightgbm": ["lightgbm", "numpy", "scipy"],
    "lightning": ["lightning", "pytorch-lightning", "torch"], "transformers": ["transformers", "torch", "safetensors"],
}  # fmt: skip


def detect_flavor(model: Any) -> str:
    """The flavor of ``model`` when none is given."""
    if isinstance(model, str | os.PathLike):
        if not os.path.exists(model):
            raise UsageError(f"model file '{model}' does not exist")
        return "file"
    for flavor in ("xgboost", "lightgbm"):  # before sklearn: their wrappers are sklearn estimators too
        if any(cls.__module__.split(".")[0] == flavor for cls in type(model).__mro__):
            return flavor
    if any(cls.__module__.startswith("sklearn.") for cls in type(model).__mro__):
        return "sklearn"
    for flavor, module, cls in _NATIVE:
        found = sys.modules.get(module)
        if found is not None and isinstance(model, getattr(found, cls, ())):
            return flavor
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return "pytorch"
    if callable(getattr(model, "predict", None)):
        return "python"
    raise UsageError(
        f"cannot tell how to save a {type(model).__name__}: pass flavor= (one of {', '.join(FLAVORS)}), "
        "or a path to a model file"
    )


# flavor, module, class: models detected by their class when the library is imported
_NATIVE = (
    ("xgboost", "xgboost", "Booster"),
    ("lightgbm", "lightgbm", "Booster"),
    ("lightning", "lightning.pytorch", "LightningModule"),
    ("lightning", "pytorch_lightning", "LightningModule"),
    ("transformers", "transformers", "PreTrainedModel"),
)


def infer_signature(example: Any) -> dict[str, Any] | None:
    """Column names and dtypes of a DataFrame, or shape and dtype of an array (batch size -1)."""
    if example is None:
        return None
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(example, pandas.DataFrame):
        return {
            "inputs": {
                "type": "dataframe",
                "columns": [{"name": str(c), "dtype": str(t)} for c, t in example.dtypes.items()],
            }
        }
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(example, numpy.ndarray | list):
        array = numpy.asarray(example)
        return {"inputs": {"type": "ndarray", "shape": [-1, *array.shape[1:]], "dtype": str(array.dtype)}}
    raise UsageError(f"input_example must be a pandas DataFrame or an array, got {type(example).__name__}")


def _installed(names: list[str]) -> list[str]:
    from importlib import metadata

    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def _save(model: Any, flavor: str, folder: Path, serialization: str | None = None) -> dict[str, Any]:
    """Write the model's files into ``folder``; returns how to load them. ``serialization``
    (``pickle``, ``cloudpickle``) pickles sklearn and python models into ``model.pkl`` instead of
    the flavor's default."""
    if flavor == "file":
        source = Path(model)
        target = folder / source.name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
        return {"loader": "path", "file": source.name}
    cls = type(model)
    class_path = f"{cls.__module__}:{cls.__qualname__}"
    if flavor == "lightning":
        import torch

        version = getattr(sys.modules.get("lightning") or sys.modules.get("pytorch_lightning"), "__version__", "")
        checkpoint = {"state_dict": model.state_dict(), "pytorch-lightning_version": version,
                      model.CHECKPOINT_HYPER_PARAMS_KEY: dict(model.hparams)}  # fmt: skip
        torch.save(checkpoint, folder / "model.ckpt")
        return {"loader": "lightning-checkpoint", "file": "model.ckpt", "class": class_path}
    if flavor == "transformers":
        model.save_pretrained(folder / "pretrained")
        return {"loader": "pretrained", "file": "pretrained", "class": class_path}
    if flavor == "pytorch":
        import torch

        torch.save(model.state_dict(), folder / "state_dict.pt")
        cls = type(model)
        return {"loader": "torch-state-dict", "file": "state_dict.pt", "class": f"{cls.__module__}:{cls.__qualname__}"}
    cls = type(model)
    if flavor == "xgboost":
        model.save_model(str(folder / "model.ubj"))
        return {"loader": "xgboost", "file": "model.ubj", "class": f"{cls.__module__}:{cls.__qualname__}"}
    if flavor == "lightgbm" and cls.__name__ == "Booster":
        model.save_model(str(folder / "model.lgb"))
        return {"loader": "lightgbm-booster", "file": "model.lgb"}
    try:
        if serialization == "cloudpickle":
            import cloudpickle

            with open(folder / "model.pkl", "wb") as out:
                cloudpickle.dump(model, out)
            return {"loader": "pickle", "file": "model.pkl"}
        if flavor == "sklearn" and serialization is None and importlib.util.find_spec("joblib") is not None:
            import joblib

            joblib.dump(model, folder / "model.joblib")
            return {"loader": "joblib", "file": "model.joblib"}
        with open(folder / "model.pkl", "wb") as out:
            pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ModelError(f"cannot pickle this {type(model).__name__} ({exc}); save it to a file and log that") from None
    return {"loader": "pickle", "file": "model.pkl"}


def save_model(
    model: Any,
    folder: Path,
    flavor: str | None = None,
    signature: dict[str, Any] | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
    serialization: str | None = None,
    extra: Callable[[Path, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Save ``model`` with its ``model.yaml`` into ``folder`` (an empty or new folder); returns the
    ``model.yaml`` content.

    ``serialization``: see :func:`_save`. ``extra(folder, meta)`` may add files beside the
    model's own, and change ``meta``, before ``model.yaml`` is written (the MLflow layer writes
    its ``MLmodel`` there)."""
    flavor = flavor or detect_flavor(model)
    if flavor not in FLAVORS:
        raise UsageError(f"flavor {flavor!r} is not one of {', '.join(FLAVORS)}")
    if serialization is not None and serialization not in SERIALIZATIONS:
        raise UsageError(f"serialization {serialization!r} is not one of {', '.join(SERIALIZATIONS)}")
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"'{folder}' exists and is not empty; save the model into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    how = _save(model, flavor, folder, serialization)
    meta = {
        "schema": 1,
        "flavor": flavor,
        **how,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}" if flavor != "file" else None,
        "python": platform.python_version(),
        "gittrack": __version__,
        "requirements": list(pip_requirements)
        if pip_requirements is not None
        else _installed(_FLAVOR_PACKAGES.get(flavor, [])),
        "signature": signature if signature is not None else infer_signature(input_example),
    }
    if extra is not None:
        extra(folder, meta)
    (folder / MODEL_YAML).write_bytes(dump_yaml(meta))
    return meta


def log_model(
    writer: RunWriter,
    model: Any,
    name: str = "model",
    flavor: str | None = None,
    signature: dict[str, Any] | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
    serialization: str | None = None,
    extra: Callable[[Path, dict[str, Any]], None] | None = None,
    entry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save ``model`` (see :func:`save_model`) and log the folder as artifact ``name``; ``entry``:
    more fields for the model's entry in the run record (plain data, e.g. the MLflow layer's
    ``model_id``)."""
    path = naming.artifact_path(None, name)
    with tempfile.TemporaryDirectory(prefix="gittrack-model-") as tmp:
        folder = Path(tmp) / path.rpartition("/")[2]
        meta = save_model(model, folder, flavor, signature, input_example, pip_requirements, serialization, extra)
        return log_entry(writer, folder, path, "model", {**(entry or {}), "flavor": meta["flavor"]})


def parse_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run>/<path>`` -> (run, path)."""
    if not isinstance(uri, str) or not uri.startswith("runs:/"):
        raise UsageError(f"model URI {uri!r} is not of the form runs:/<run>/<name>")
    run, _, path = uri[len("runs:/") :].lstrip("/").partition("/")
    if not run or not path:
        raise UsageError(f"model URI {uri!r} is not of the form runs:/<run>/<name>")
    return run, path


def _check_environment(meta: dict[str, Any]) -> None:
    recorded = str(meta.get("python", ""))
    if recorded.rsplit(".", 1)[0] != platform.python_version().rsplit(".", 1)[0]:
        log.warning("gittrack: the model was saved with Python %s; this is %s", recorded, platform.python_version())
    for requirement in meta.get("requirements") or []:
        name, _, version = str(requirement).partition("==")
        current = _installed([name])
        if not current:
            log.warning("gittrack: the model needs %s, which is not installed", requirement)
        elif version and current[0] != f"{name}=={version}":
            log.warning("gittrack: the model was saved with %s; installed: %s", requirement, current[0])


def materialise(repo: pygit2.Repository, run: Run, path: str) -> Path:
    """Fetch (if needed) the model folder at ``path`` of ``run`` into a new temporary folder and
    verify it against the run's pointer; returns the folder."""
    dvc = dvc_of(repo)
    entry = artifact_entry(repo, run, path)
    dvcstore.fetch(dvc, [entry])
    target = Path(tempfile.mkdtemp(prefix="gittrack-model-")) / path.rpartition("/")[2]
    dvcstore.materialise(dvc, entry, target)
    actual = dvcstore.hash_path(dvc, target).md5
    if actual != entry.md5:
        raise ModelError(f"model '{path}' of run {run.info.run_name} does not match its recorded hash; not loading it")
    if not (target / MODEL_YAML).is_file():
        raise ModelError(f"artifact '{path}' of run {run.info.run_name} is not a model (no {MODEL_YAML})")
    return target


def load(repo: pygit2.Repository, run: Run, path: str) -> Any:
    """Fetch (if needed), verify against the run's pointer, and load the model at ``path`` of ``run``."""
    return load_folder(materialise(repo, run, path), path)


def read_meta(folder: Path, what: str | None = None) -> dict[str, Any]:
    """A model folder's ``model.yaml``, checked to name a known flavor."""
    what = what or str(folder)
    meta_file = folder / MODEL_YAML
    if not meta_file.is_file():
        raise ModelError(f"'{what}' is not a model (no {MODEL_YAML})")
    meta = load_yaml(meta_file.read_bytes(), f"{what}/{MODEL_YAML}")
    if not isinstance(meta, dict) or meta.get("flavor") not in FLAVORS:
        raise ModelError(f"{what}/{MODEL_YAML} does not name a known flavor")
    return meta


def load_folder(target: Path, what: str | None = None) -> Any:
    """Load the model saved in folder ``target`` (by :func:`save_model`, or verified by
    :func:`materialise`). Its ``code`` folder, when it has one, is put on ``sys.path`` first."""
    path = what or str(target)
    meta = read_meta(target, path)
    _check_environment(meta)
    if meta.get("code"):
        code = str(target / naming.artifact_path(None, str(meta["code"])))
        if code not in sys.path:
            sys.path.insert(0, code)
    file = target / naming.artifact_path(None, str(meta.get("file")))
    loader = meta.get("loader")
    if loader == "path":
        return str(file)
    if loader == "joblib":
        import joblib

        return joblib.load(file)
    if loader == "pickle":
        with open(file, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - verified by materialise, or a folder its caller trusts
    if loader == "mlflow":  # an imported MLflow model: MLflow's loader of its flavor reads the folder
        flavor = str(meta.get("mlflow_flavor"))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", flavor):
            raise ModelError(f"{path}/{MODEL_YAML} names an invalid MLflow flavor {flavor!r}")
        try:
            module = importlib.import_module(f"mlflow.{flavor}")
        except ImportError:
            raise ModelError(f"this MLflow {flavor} model loads with MLflow: pip install 'gittrack[mlflow]'") from None
        return module.load_model(str(target))
    if loader == "xgboost":
        import xgboost

        cls = _import_class(str(meta.get("class")))
        instance = xgboost.Booster() if cls is xgboost.Booster else cls()
        instance.load_model(str(file))
        return instance
    if loader == "lightgbm-booster":
        import lightgbm

        return lightgbm.Booster(model_file=str(file))
    if loader == "lightning-checkpoint":
        return _import_class(str(meta.get("class"))).load_from_checkpoint(str(file), map_location="cpu")
    if loader == "pretrained":
        return _import_class(str(meta.get("class"))).from_pretrained(str(file))
    if loader == "torch-state-dict":
        import torch

        qualname = str(meta.get("class")).partition(":")[2]
        cls = _import_class(str(meta.get("class")))
        try:
            instance = cls()
        except TypeError as exc:
            raise ModelError(
                f"cannot rebuild {qualname} without arguments ({exc}); load the state_dict yourself"
            ) from None
        instance.load_state_dict(torch.load(file, weights_only=True))
        return instance
    raise ModelError(f"{path}/{MODEL_YAML} names an unknown loader {loader!r}")


def _import_class(path: str) -> Any:
    """The class ``module:Qual.Name`` names (as model.yaml records it)."""
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
