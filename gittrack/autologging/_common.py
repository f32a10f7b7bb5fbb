"""What several integrations log the same way: params, models with a signature, the training data, JSON files."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gittrack.autologging._patch import safely, settings, warn_once
from gittrack.autologging._runs import Session

MAX_PARAM_CHARS = 6000  # what the store accepts
MAX_KEY_CHARS = 250
MAX_DATASET_BYTES = 256 * 1024 * 1024
_BAD_KEY = re.compile(r"[^\w\-./: ]")
_dataset_lock = threading.Lock()


def with_subclasses(base: type) -> list[type]:
    """``base`` and every class derived from it, each once (the classes a patch must reach)."""
    found, seen, todo = [], set(), [base]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


def key(text: Any) -> str:
    """A param or metric key the store accepts: other characters become ``_``."""
    cleaned = _BAD_KEY.sub("_", str(text)).strip("/") or "_"
    cleaned = "/".join(part if part not in (".", "..") else "_" for part in cleaned.split("/"))
    return cleaned[:MAX_KEY_CHARS]


def param_value(value: Any) -> Any:
    """Numbers, bools and None as they are; anything else as its text, cut to what the store accepts."""
    if value is None or isinstance(value, bool | int | float | str):
        text = value if isinstance(value, str) else None
        if text is not None and len(text) > MAX_PARAM_CHARS:
            return text[:MAX_PARAM_CHARS]
        return value
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    text = str(value).replace("\x00", "")
    return text[:MAX_PARAM_CHARS]


def flatten(params: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested dicts as ``outer.inner`` keys."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        full = f"{prefix}{sep}{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, full, sep))
        else:
            out[full] = value
    return out


def log_params(session: Session, params: Mapping[str, Any]) -> None:
    """Log ``params``; keys already logged with another value (a second fit in one run) are kept as they were."""
    assert session.target is not None
    cleaned = {key(k): param_value(v) for k, v in params.items()}
    refused = session.target.log_params(cleaned)
    if refused:
        warn_once(session.library, "params", ValueError(
            f"{len(refused)} params ({', '.join(refused[:3])}...) were logged before with other values; "
            "start a run per training to keep each one's params"))  # fmt: skip


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The values that are real numbers (NaN and inf included), under valid keys."""
    out = {}
    for name, value in metrics.items():
        try:
            out[key(name)] = float(value)
        except (TypeError, ValueError, OverflowError):
            continue
    return out


def _head(data: Any, rows: int = 5) -> Any:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        return data.head(rows)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(data, numpy.ndarray | list):
        return numpy.asarray(data)[:rows]
    return None


def signature(model: Any, X: Any) -> dict[str, Any] | None:
    """Inputs (columns and dtypes, or shape and dtype) of ``X``, and outputs of ``model.predict`` on its head."""
    from gittrack.flavors import infer_signature

    example = _head(X)
    if example is None:
        return None
    found = infer_signature(example) or {}
    predict = getattr(model, "predict", None)
    if callable(predict):
        with contextlib.suppress(Exception):
            outputs = infer_signature(_head(predict(example)))
            if outputs:
                found["outputs"] = outputs["inputs"]
    return found or None


def log_model(session: Session, model: Any, X: Any = None, name: str = "model", flavor: str | None = None) -> None:
    """Save ``model`` as artifact ``name`` with a signature inferred from ``X`` (and an input example when asked)."""
    config = settings(session.library)
    if config is None or not config.log_models or session.target is None:
        return
    target = session.target
    example = _head(X) if config.log_input_examples and X is not None else None
    wanted = X is not None and config.log_model_signatures
    sig = safely(session.library, "the model signature", signature, model, X) if wanted else None
    serialization = config.extra.get("serialization") if flavor in (None, "sklearn") else None
    target.client.log_model(target.run_id, model, name, flavor=flavor, signature=sig, input_example=example,
                            serialization=serialization)  # fmt: skip


def _nbytes(data: Any) -> int:
    for attribute in ("nbytes", "data.nbytes"):
        value: Any = data
        try:
            for part in attribute.split("."):
                value = getattr(value, part)
            return int(value)
        except (AttributeError, TypeError, ValueError):
            continue
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        return int(data.memory_usage(deep=True).sum() if hasattr(data, "columns") else data.memory_usage(deep=True))
    return 0


def _dump(data: Any, stem: Path) -> bool:
    """Write ``data`` to a file in a stable format (same data, same bytes); False when it cannot be."""
    pandas = sys.modules.get("pandas")
    numpy = sys.modules.get("numpy")
    scipy_sparse = sys.modules.get("scipy.sparse")
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        data.to_csv(stem.with_suffix(".csv"), index=False)
        return True
    if scipy_sparse is not None and scipy_sparse.issparse(data):
        scipy_sparse.save_npz(stem.with_suffix(".npz"), data.tocsr(), compressed=False)
        return True
    if numpy is not None:
        array = numpy.asarray(data)
        if array.dtype == object:
            return False
        numpy.save(stem.with_suffix(".npy"), array, allow_pickle=False)
        return True
    return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One process at a time writes and hashes the shared dataset folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with _dataset_lock, open(folder / ".lock", "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not on POSIX: the in-process lock is all there is
            pass
        yield


def log_dataset(session: Session, X: Any, y: Any = None, name: str = "training_data") -> None:
    """Record the DVC hash of the training data (``X``, and ``y`` when given) as the input ``name``.

    The data is written in a stable format (CSV for pandas, ``.npy``/``.npz`` for arrays) to
    ``<temp>/gittrack-autolog-<user>/<name>/`` and hashed there, so the same data gives the
    same hash and the same input path in every run on the machine.
    """
    config = settings(session.library)
    if config is None or not config.log_datasets or session.target is None or X is None:
        return
    size = _nbytes(X) + (_nbytes(y) if y is not None else 0)
    if size > MAX_DATASET_BYTES:
        warn_once(session.library, "the training data hash", ValueError(
            f"the training data is over {MAX_DATASET_BYTES // 2**20} MB; log the file it came from with "
            "gittrack.log_input(path)"))  # fmt: skip
        return
    user = os.environ.get("USER") or str(getattr(os, "getuid", lambda: "user")())
    root = Path(tempfile.gettempdir()) / f"gittrack-autolog-{key(user)}"
    folder = root / name
    with _locked(root):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        written = _dump(X, folder / "X")
        if y is not None:
            written = _dump(y, folder / "y") and written
        if not written:
            return
        session.target.client.log_input(session.target.run_id, folder, name=name)


def log_json(session: Session, filename: str, data: Any) -> None:
    """Store ``data`` as the JSON artifact ``filename``."""
    assert session.target is not None
    with tempfile.TemporaryDirectory(prefix="gittrack-autolog-") as tmp:
        path = Path(tmp) / filename
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        session.target.client.log_artifact(session.target.run_id, path)


def log_importance_plot(session: Session, filename: str, importance: Mapping[str, float], title: str) -> None:
    """A horizontal bar chart of feature importance as a PNG artifact, when matplotlib is installed."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None or not importance or session.target is None:
        return
    from matplotlib.figure import Figure

    items = sorted(importance.items(), key=lambda kv: kv[1])[-30:]
    figure = Figure(figsize=(6, max(2.0, 0.3 * len(items) + 1)))
    axes = figure.subplots()
    axes.barh([k for k, _ in items], [v for _, v in items])
    axes.set_title(title)
    figure.tight_layout()
    with tempfile.TemporaryDirectory(prefix="gittrack-autolog-") as tmp:
        path = Path(tmp) / filename
        figure.savefig(path, dpi=80)
        session.target.client.log_artifact(session.target.run_id, path)
