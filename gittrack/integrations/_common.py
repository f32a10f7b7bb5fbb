"""What several integrations log the same way: params, models with a signature, datasets, JSON and text files."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.integrations._patch import safely, settings, warn_once
from gittrack.integrations._runs import Session, Target

if TYPE_CHECKING:
    from gittrack._data.datasets import Description

MAX_PARAM_CHARS = 6000  # what the store accepts
MAX_KEY_CHARS = 250
_BAD_KEY = re.compile(r"[^\w\-./: ]")


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
    from gittrack._flavors import infer_signature

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
    registered = config.extra.get("registered_model_name")
    if registered and name == "model":  # as MLflow: each trained model, a new version (not a search's best)
        safely(session.library, "the model version", target.client.register_model, f"runs:/{target.run_id}/{name}",
               registered)  # fmt: skip


def code_source(target: Target) -> str:
    """MLflow's source of data handed to a training call in code: the run's user and entry point."""
    from gittrack._data import datasets

    cached = target.cache.get("code_source")
    if cached is None:
        run = target.client.get_run(target.run_id)
        entry = run.data.tags.get("mlflow.source.name") or datasets.entry_point()
        cached = target.cache["code_source"] = datasets.code_source(run.info.user, entry)
    return cached


def log_dataset(session: Session, features: Any, targets: Any = None, context: str = "train",
                name: str | None = None, described: Description | None = None) -> None:  # fmt: skip
    """Record data a training or prediction call got as a dataset input, as MLflow's autologging
    does: ``name`` (default ``dataset``), its digest, schema and profile (``described``, when
    already computed), the code as its source, and ``context`` (``train``, ``eval``). Types
    MLflow does not describe are left out."""
    from gittrack._data.datasets import describe

    config = settings(session.library)
    target = session.target
    if config is None or not config.log_datasets or target is None or features is None:
        return
    described = described or describe(features, targets)
    if described is None:
        return
    target.client.log_dataset(target.run_id, name or "dataset", described.digest, context, source=code_source(target),
                              source_type="code", schema=described.schema, profile=described.profile)  # fmt: skip


def as_list(values: Any) -> list:
    """Labels or values of any array-like as a plain list."""
    tolist = getattr(values, "tolist", None)
    return list(tolist()) if callable(tolist) else list(values)


def log_text(session: Session, filename: str, text: str) -> None:
    """Store ``text`` as the artifact ``filename``."""
    assert session.target is not None
    with tempfile.TemporaryDirectory(prefix="gittrack-autolog-") as tmp:
        path = Path(tmp) / filename
        path.write_text(text, encoding="utf-8")
        session.target.client.log_artifact(session.target.run_id, path)


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
